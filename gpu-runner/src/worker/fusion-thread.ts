/**
 * Runs fusions in a worker thread, one at a time, each as a `run` request
 * arrives: parse the inputs, run the pipeline, serialize the fused model
 * exactly as `clafusion fuse` does. Running it off the runner's main thread
 * keeps that thread free to renew the queue lock (a long synchronous fusion
 * would otherwise look like a crashed runner) and lets a cancel stop the work
 * at once by terminating the thread. The runner keeps a thread that finished
 * a run cleanly for its next job (run-in-thread.ts), so the imports and the
 * backend below are loaded once per thread, not once per job.
 */
import { parentPort } from 'node:worker_threads';
import { FusionError, isFusionError } from '@clafusion/model-format/errors';
import type { LabeledData } from '../engine/nn/data.ts';
import { parseDatasetSafetensors } from '../io/datasets.ts';
import { parseModelFile } from '../io/model-file.ts';
import { labelModelError, modelLabel } from '../io/model-label.ts';
import { FUSION_FILE_METADATA, fusedFile } from '../pipeline/fused-file.ts';
import { fusedExports } from './fused-exports.ts';
import { runFusion } from '../pipeline/run-fusion.ts';
import { initBackend } from '../runtime/backend.ts';
import { withThreads } from '../runtime/threads.ts';
import { runnerTrainingThreads } from './runner-threads.ts';
import { recordRuntimeFromEnv } from '../runtime/record-runtime.ts';
import { prewarmTrainingReplicas } from '../engine/nn/data-parallel-train.ts';
import { serializeFusionError } from './job-errors.ts';
import { distillRequestFromSpec, finetuneRequestFromSpec, fusionOptionsFromSpec } from './spec-options.ts';
import type { ThreadInput, ThreadMessage, ThreadRequest, ThreadResult } from './thread-protocol.ts';

type Post = (m: DistributiveOmit<ThreadMessage, 'run'>) => void;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The backend is chosen once per thread, while the thread waits for its first job; a failed choice is tried again by the next job. */
let backend: ReturnType<typeof initBackend> | null = null;
function backendOnce(): ReturnType<typeof initBackend> {
  backend ??= initBackend().catch((err: unknown) => {
    backend = null;
    throw err;
  });
  return backend;
}

async function fuse(input: ThreadInput, post: Post): Promise<ThreadResult> {
  const files = input.models.map((m, i) => {
    try {
      return parseModelFile(m.bytes, m.arch ? { arch: m.arch } : {});
    } catch (err) {
      throw labelModelError(err, modelLabel(i, m.label));
    }
  });
  const options = fusionOptionsFromSpec(input.spec, files[0].model.arch.family, files.length);
  const calibration = parseDatasetSafetensors(input.calibration.bytes, input.calibration.label);
  const evaluation = input.evaluation ? parseDatasetSafetensors(input.evaluation.bytes, input.evaluation.label) : undefined;
  // Training runs data-parallel on RUNNER_THREADS worker threads (default: the cores shared among the runner's slots).
  const threads = runnerTrainingThreads();
  const finetune = input.spec.finetune ? withThreads(finetuneRequestFromSpec(input.spec, trainingData(input.train, 'finetune')), threads) : undefined;
  const distill = input.spec.distill ? withThreads(distillRequestFromSpec(input.spec, trainingData(input.train, 'distill')), threads) : undefined;
  const { detail } = await backendOnce();
  // The training replicas start while the fusion runs.
  if ((finetune || distill) && threads > 1) prewarmTrainingReplicas(threads);
  const outcome = await runFusion(
    {
      models: files.map((f, i) => ({ model: f.model, label: input.models[i].label, sha256: f.sha256 })),
      calibration: calibration.x,
      samples: input.samples,
      evaluation: evaluation ? { x: evaluation.x, y: evaluation.y! } : undefined,
      options,
      finetune,
      distill,
    },
    {
      backend: detail,
      now: () => performance.now(),
      // The same RUNNER_THREADS as training (default: the cores shared among the runner's slots).
      threads,
      // RUNNER_RECORD_RUNTIME: onnxruntime or tfjs; unset, onnxruntime when it loads.
      recordRuntime: recordRuntimeFromEnv(process.env),
      onProgress: (event) => post({ type: 'progress', event }),
      // Every batch's event crosses to the runner, whose throttle thins them into job events.
      onTraining: (event) => post({ type: 'training', event }),
    },
  );
  // The same bytes as the CLI's `fuse --out`: same naming, same metadata.
  const convention = files[outcome.namingFrom].convention;
  const { bytes: fused, report } = fusedFile(
    outcome,
    files.map((f) => f.convention),
  );
  const exports = fusedExports(input.spec.outputs, outcome.fused, convention, FUSION_FILE_METADATA);
  return { fused, report, exports };
}

/** The training dataset; the API checked at job creation that it is labelled, this guards a record written otherwise. */
function trainingData(train: ThreadInput['train'], section: 'finetune' | 'distill'): LabeledData {
  const field = `${section}.train`;
  if (!train) throw new FusionError('MISSING_TENSOR', `${field}: the job has no training dataset`, { field });
  const data = parseDatasetSafetensors(train.bytes, train.label);
  if (!data.y) throw new FusionError('MISSING_TENSOR', `${train.label}: the training dataset has no labels (y)`, { tensor: 'y', field });
  return { x: data.x, y: data.y };
}

const port = parentPort!;
port.on('message', (request: ThreadRequest) => {
  if (request.type !== 'run') return;
  const { run } = request;
  const post: Post = (m) => port.postMessage({ ...m, run } as ThreadMessage);
  fuse(request.input, post).then(
    (result) =>
      port.postMessage({ type: 'done', run, result } satisfies ThreadMessage, [
        result.fused.buffer as ArrayBuffer,
        ...result.exports.map((e) => e.bytes.buffer as ArrayBuffer),
      ]),
    (err: unknown) =>
      post({
        type: 'error',
        fusionError: isFusionError(err) ? serializeFusionError(err) : null,
        message: err instanceof Error ? (err.stack ?? err.message) : String(err),
      }),
  );
});
// Warm up while no job is waiting: the backend's first use is not free either.
backendOnce().catch(() => {});
