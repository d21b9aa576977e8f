/** Starts a fusion thread and turns its messages into a promise, progress callbacks and an abort. */
import { Worker } from 'node:worker_threads';
import type { FusionTrainingEvent } from '../pipeline/finetune-fusion.ts';
import type { ProgressEvent } from '../pipeline/run-fusion.ts';
import { deserializeFusionError } from './job-errors.ts';
import type { ThreadInput, ThreadMessage, ThreadResult } from './thread-protocol.ts';

export class FusionAborted extends Error {
  constructor() {
    super('the fusion was stopped');
    this.name = 'FusionAborted';
  }
}

export function runInThread(
  input: ThreadInput,
  onProgress: (e: ProgressEvent) => void,
  signal: AbortSignal,
  onTraining: (e: FusionTrainingEvent) => void = () => {},
): Promise<ThreadResult> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new FusionAborted());
    // Inputs are copied, not transferred: store reads may hand out views of shared (pooled) buffers.
    const worker = new Worker(new URL('./thread-boot.mjs', import.meta.url), { workerData: input });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = () => settle(() => reject(new FusionAborted()));
    signal.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: ThreadMessage) => {
      if (m.type === 'progress') onProgress(m.event);
      else if (m.type === 'training') onTraining(m.event);
      else if (m.type === 'done') settle(() => resolve(m.result));
      else settle(() => reject(m.fusionError ? deserializeFusionError(m.fusionError) : new Error(`fusion thread failed: ${m.message}`)));
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`fusion thread exited with code ${code}`))));
  });
}
