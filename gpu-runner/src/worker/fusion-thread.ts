/**
 * Runs one fusion in a worker thread: parse the inputs, run the pipeline,
 * serialize the fused model exactly as `clafusion fuse` does. Running it off
 * the runner's main thread keeps that thread free to renew the queue lock
 * (a long synchronous fusion would otherwise look like a crashed runner) and
 * lets a cancel stop the work at once by terminating the thread.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { FusionError, isFusionError } from '../engine/errors.ts';
import type { LabeledData } from '../engine/nn/data.ts';
import { parseDatasetSafetensors } from '../io/datasets.ts';
import { parseModelFile, serializeModel } from '../io/model-file.ts';
import { runFusion } from '../pipeline/run-fusion.ts';
import { ENGINE_VERSION } from '../pipeline/version.ts';
import { initBackend } from '../runtime/backend.ts';
import { serializeFusionError } from './job-errors.ts';
import { distillRequestFromSpec, finetuneRequestFromSpec, fusionOptionsFromSpec } from './spec-options.ts';
import type { ThreadInput, ThreadMessage, ThreadResult } from './thread-protocol.ts';

async function fuse(input: ThreadInput, post: (m: ThreadMessage) => void): Promise<ThreadResult> {
  const files = input.models.map((m) => parseModelFile(m.bytes, m.arch ? { arch: m.arch } : {}));
  const options = fusionOptionsFromSpec(input.spec, files[0].model.arch.family, files.length);
  const calibration = parseDatasetSafetensors(input.calibration.bytes, input.calibration.label);
  const evaluation = input.evaluation ? parseDatasetSafetensors(input.evaluation.bytes, input.evaluation.label) : undefined;
  const finetune = input.spec.finetune ? finetuneRequestFromSpec(input.spec, trainingData(input.train, 'finetune')) : undefined;
  const distill = input.spec.distill ? distillRequestFromSpec(input.spec, trainingData(input.train, 'distill')) : undefined;
  const backend = await initBackend();
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
      backend: backend.detail,
      now: () => performance.now(),
      onProgress: (event) => post({ type: 'progress', event }),
      // Every batch's event crosses to the runner, whose throttle thins them into job events.
      onTraining: (event) => post({ type: 'training', event }),
    },
  );
  // The same bytes as the CLI's `fuse --out`: same naming, same metadata.
  const fused = serializeModel(outcome.fused, files[outcome.namingFrom].convention, { 'clafusion.version': ENGINE_VERSION });
  const report = { ...outcome.report, fused: { ...outcome.report.fused, sha256: createHash('sha256').update(fused).digest('hex') } };
  return { fused, report };
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
const post = (m: ThreadMessage) => port.postMessage(m);
try {
  const result = await fuse(workerData as ThreadInput, post);
  port.postMessage({ type: 'done', result } satisfies ThreadMessage, [result.fused.buffer as ArrayBuffer]);
} catch (err) {
  post({
    type: 'error',
    fusionError: isFusionError(err) ? serializeFusionError(err) : null,
    message: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
}
