/**
 * Worker side of DataParallelTrainer: one wasm backend per thread (tfjs-wasm is single-threaded in
 * Node), holding a full replica of the parameters. Per message it first applies the averaged
 * gradients of the previous step, if any, then computes gradients on its shard of the next batch —
 * one round trip per step.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './index.ts';
import { SgdTrainer } from './trainer.ts';
import { TRAINING_NETS } from './training-nets.ts';

export interface WorkerInit {
  net: string;
  initial: Float32Array[];
  learningRate: number;
}

export type WorkerRequest =
  | { kind: 'step'; apply: Float32Array[] | null; x: Float32Array; labels: Int32Array }
  | { kind: 'apply'; apply: Float32Array[] }
  | { kind: 'snapshot' };

const port = parentPort;
if (port === null) throw new Error('data-parallel-worker.ts must run in a worker thread');
const init = workerData as WorkerInit;

registerWasmTrainingKernels();
await tf.setBackend('wasm');
await tf.ready();
const build = TRAINING_NETS[init.net];
if (build === undefined) throw new Error(`unknown training net ${init.net}`);
const trainer = new SgdTrainer(build(), init.initial, init.learningRate);
port.postMessage({ kind: 'ready' });

port.on('message', (msg: WorkerRequest) => {
  if (msg.kind === 'snapshot') {
    port.postMessage({ kind: 'snapshot', params: trainer.snapshot() });
    return;
  }
  const t0 = performance.now();
  if (msg.apply !== null) trainer.apply(msg.apply);
  if (msg.kind === 'apply') {
    port.postMessage({ kind: 'applied' });
    return;
  }
  const { grads, loss } = trainer.gradients(msg.x, msg.labels);
  const busyMs = performance.now() - t0;
  port.postMessage({ kind: 'grads', grads, loss, busyMs }, grads.map((g) => g.buffer as ArrayBuffer));
});
