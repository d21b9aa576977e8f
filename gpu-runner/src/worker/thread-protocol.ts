/** Messages between a runner and its fusion thread (structured-clone friendly). */
import type { FusionSpec } from '@clafusion/contract';
import type { Arch } from '@clafusion/model-format/arch';
import type { FusionTrainingEvent } from '../pipeline/finetune-fusion.ts';
import type { ProgressEvent } from '../pipeline/run-fusion.ts';
import type { FusionReport } from '../pipeline/report.ts';
import type { SerializedFusionError } from './job-errors.ts';

export interface ThreadInput {
  models: { bytes: Uint8Array; label: string; arch: Arch | null }[];
  calibration: { bytes: Uint8Array; label: string };
  evaluation: { bytes: Uint8Array; label: string } | null;
  /** The finetuning dataset, when the spec has a finetune section. */
  train: { bytes: Uint8Array; label: string } | null;
  samples: number | null;
  /** Options are resolved in the thread, once the models' family is known. */
  spec: FusionSpec;
}

export interface ThreadResult {
  fused: Uint8Array;
  report: FusionReport;
  /** The other model formats the spec's `outputs` asks for (fused.pt, fused.onnx), in that order. */
  exports: { name: 'fused.pt' | 'fused.onnx'; bytes: Uint8Array }[];
}

/**
 * Runner → thread: run one fusion. A thread runs one at a time and is kept
 * for the next only after a clean `done`; `run` numbers them within a thread.
 */
export interface ThreadRequest {
  type: 'run';
  run: number;
  input: ThreadInput;
}

/** Thread → runner, each tagged with the `run` it belongs to; `done` or `error` is the last of a run. */
export type ThreadMessage = { run: number } & (
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'training'; event: FusionTrainingEvent }
  | { type: 'done'; result: ThreadResult }
  | { type: 'error'; fusionError: SerializedFusionError | null; message: string }
);
