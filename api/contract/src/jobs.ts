/** Fusion jobs, their events and outputs. */
import { z } from 'zod';
import { ArchSchema } from './files.ts';
import { FileId, FusionId } from './ids.ts';
import { LineageName, VersionNumber } from './lineages.ts';
import { FusionSpec } from './spec.ts';

/** queued → running → succeeded | failed | canceled (a retried job goes running → running). */
export const JobStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'canceled']);
export type JobStatus = z.infer<typeof JobStatus>;
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];

/** What a running job is doing: fetching inputs, a pipeline stage (finetune: finetuning or distillation after fusion, when the spec asks), or writing outputs. */
export const JobStage = z.enum(['download', 'activations', 'cost', 'alignment', 'balance', 'fusion', 'evaluation', 'finetune', 'upload']);
export type JobStage = z.infer<typeof JobStage>;

/**
 * Why a job failed, in terms a user can act on:
 * - invalid_input: a model or dataset file cannot be used (the message names the tensor);
 * - incompatible_models: the models cannot be fused together;
 * - invalid_options: an option is out of range for these models (e.g. an explicit mapping);
 * - solver_failed: optimal transport did not converge (try solver exact, or a larger sinkhorn reg);
 * - internal_error: the service failed; it was retried before giving up.
 */
export const JobErrorCode = z.enum(['invalid_input', 'incompatible_models', 'invalid_options', 'solver_failed', 'internal_error']);
export type JobErrorCode = z.infer<typeof JobErrorCode>;

export const JobError = z.object({
  code: JobErrorCode,
  message: z.string(),
  stage: JobStage.nullable(),
  details: z.record(z.string(), z.unknown()),
});
export type JobError = z.infer<typeof JobError>;

export const OutputName = z.enum(['fused.safetensors', 'report.json', 'report.html', 'fused.pt', 'fused.onnx']);
export type OutputName = z.infer<typeof OutputName>;

export const JobOutput = z.object({
  name: OutputName,
  size: z.int().nonnegative(),
  sha256: z.string(),
  content_type: z.string(),
});
export type JobOutput = z.infer<typeof JobOutput>;

export const JobInputFile = z.object({
  file: FileId,
  name: z.string(),
  sha256: z.string().nullable(),
  /** The lineage version the model was named by, when the request used a lineage reference. */
  lineage: z.object({ name: LineageName, version: VersionNumber }).optional(),
});

export const JobMetrics = z.object({
  /** Accuracy on the evaluation set, when one was given. */
  accuracy: z
    .object({
      models: z.array(z.number()),
      /** The fused model as fusion left it (before REPAIR, when REPAIR ran). */
      fused: z.number(),
      /** With `fusion.repair`: the repaired fused model (the output file), report.json's `accuracy.repaired`. */
      repaired: z.number().optional(),
      ensemble: z.number(),
      samples: z.int(),
    })
    .nullable(),
  /**
   * With `finetune` and an evaluation set: the eval accuracy of the kept
   * (best) epoch of the finetuned fused model, report.json's
   * `accuracy.finetuned.fused`; `accuracy.fused` stays the model as fusion
   * left it. Absent for jobs without finetuning.
   */
  finetuned_accuracy: z.number().nullable().optional(),
  /** With `finetune`: epochs trained and the 1-based epoch whose weights were kept (null without an evaluation set). */
  finetune: z.object({ epochs: z.int().nonnegative(), best_epoch: z.int().positive().nullable() }).optional(),
  /**
   * With `distill` and an evaluation set: the reported eval accuracy of the
   * distilled fused model (the best of before and every epoch), report.json's
   * `accuracy.finetuned.fused` with `training.kind` 'distill'. Absent for jobs
   * without distillation.
   */
  distilled_accuracy: z.number().nullable().optional(),
  /** With `distill`: epochs trained and the 1-based epoch kept (null when the student before distillation was kept or without an evaluation set). */
  distill: z.object({ epochs: z.int().nonnegative(), best_epoch: z.int().positive().nullable() }).optional(),
  fused_arch: ArchSchema,
  parameters: z.int(),
  /** Seconds per stage and in total. */
  timings: z.record(z.string(), z.number()),
  backend: z.string(),
});
export type JobMetrics = z.infer<typeof JobMetrics>;

export const FusionJob = z.object({
  id: FusionId,
  object: z.literal('fusion'),
  status: JobStatus,
  stage: JobStage.nullable(),
  /** Overall progress, 0 to 1. */
  progress: z.number().min(0).max(1),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  /** Runs started so far (above 1 after a crashed runner's job was picked up again). */
  attempts: z.int().nonnegative(),
  cancel_requested: z.boolean(),
  error: JobError.nullable(),
  spec: FusionSpec,
  inputs: z.object({
    models: z.array(JobInputFile),
    calibration: JobInputFile,
    evaluation: JobInputFile.nullable(),
    /** The training dataset, present when the spec has `finetune` or `distill`. */
    train: JobInputFile.optional(),
  }),
  outputs: z.array(JobOutput),
  metrics: JobMetrics.nullable(),
});
export type FusionJob = z.infer<typeof FusionJob>;

export const JobEventType = z.enum(['queued', 'running', 'progress', 'cancel_requested', 'succeeded', 'failed', 'canceled']);
export type JobEventType = z.infer<typeof JobEventType>;

/**
 * One entry of a job's append-only event log. `id` is the decimal sequence
 * number (1, 2, …): pass the last one seen as `after` (list) or
 * `Last-Event-ID` (SSE) to resume without gaps or repeats.
 */
export const JobEvent = z.object({
  id: z.string().regex(/^[1-9]\d*$/),
  object: z.literal('fusion.event'),
  job_id: FusionId,
  seq: z.int().positive(),
  type: JobEventType,
  created_at: z.string(),
  stage: JobStage.nullable(),
  progress: z.number().min(0).max(1).nullable(),
  message: z.string(),
  /**
   * running: {attempt, runner}; succeeded: {outputs, metrics}; failed: {error};
   * progress at the end of a finetuning or distillation epoch (stage
   * `finetune`): {kind ('finetune' or 'distill'), model, epoch, epochs, loss,
   * train_accuracy, eval_accuracy, lr}; other progress: {}.
   */
  data: z.record(z.string(), z.unknown()),
});
export type JobEvent = z.infer<typeof JobEvent>;

export const EventId = z.string().regex(/^(0|[1-9]\d{0,9})$/, 'must be an event id (a sequence number)');
