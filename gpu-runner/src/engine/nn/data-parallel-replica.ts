/**
 * One replica of data-parallel training (data-parallel-train.ts), in its own
 * worker thread with its own tfjs backend and a full copy of the model and
 * the optimiser state.
 *
 * Per step it first applies the previous step's update (the gradients summed
 * over all replicas, identical for every replica, so the copies stay
 * bit-identical), then computes its shard's loss and gradients; BatchNorm
 * layers meet the other replicas half-way through the pass to combine their
 * batch statistics (replica-exchange.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../../runtime/backend.ts';
import { isFusionError } from '../errors.ts';
import { batchGradients } from './batch-gradients.ts';
import type { ReplicaInit, ReplicaReply, ReplicaRequest, ReplicaUpdate } from './data-parallel-train.ts';
import { familyNet } from './families.ts';
import { runningStatIndices } from './layers.ts';
import { uploadParams } from './params.ts';
import { ReplicaExchange } from './replica-exchange.ts';
import { Sgd } from './sgd.ts';
import { Teachers } from './teachers.ts';

const port = parentPort;
if (port === null) throw new Error('data-parallel-replica.ts must run in a worker thread');
const init = workerData as ReplicaInit;

await initBackend({ env: { CLAFUSION_BACKEND: init.backend } });
const { arch } = init.model;
const net = familyNet(arch);
const buffers = runningStatIndices(arch);
const initial = uploadParams(init.model);
const vars = initial.map((t, i) => tf.variable(t, !buffers.has(i)));
tf.dispose(initial);
const trainable = vars.filter((_, i) => !buffers.has(i));
const sgd = new Sgd(trainable, { momentum: init.momentum, weightDecay: init.weightDecay });
const teacher = init.teacher && { teachers: new Teachers(init.teacher.models, arch), options: init.teacher };
const post = (reply: ReplicaReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
post({ kind: 'ready' });

function apply(update: ReplicaUpdate): void {
  tf.tidy(() => {
    sgd.step(
      update.grads.map((g, i) => tf.tensor(g, trainable[i].shape)),
      update.lr,
    );
    for (const s of update.stats) vars[s.index].assign(tf.tensor(s.data, vars[s.index].shape));
  });
}

function step(msg: Extract<ReplicaRequest, { kind: 'step' }>): ReplicaReply {
  const t0 = performance.now();
  if (msg.apply !== null) apply(msg.apply);
  const rows = msg.targets.length / arch.classes;
  const exchange = new ReplicaExchange(init.buffer, init.layout, msg.rank, msg.participants, msg.batchSize);
  let statIndices: number[] = [];
  // One flat tensor list out of tidy: [loss, …gradients, logits, …running statistics].
  const out = tf.tidy(() => {
    const x = tf.tensor2d(msg.x, [rows, msg.x.length / rows]);
    const t = tf.tensor2d(msg.targets, [rows, arch.classes]);
    const r = batchGradients(arch, net, vars, trainable, x, t, teacher, exchange);
    statIndices = r.stats.map((s) => s.index);
    return [r.value, ...trainable.map((v) => r.grads[v.name]), r.logits, ...r.stats.map((s) => s.value)];
  });
  try {
    // Host copies after tidy: tidy would walk typed arrays returned from it element by element.
    const read = out.map((t) => Float32Array.from(t.dataSync() as Float32Array));
    const g = trainable.length;
    return {
      kind: 'grads',
      loss: read[0][0],
      grads: read.slice(1, 1 + g),
      logits: read[1 + g],
      stats: statIndices.map((index, i) => ({ index, data: read[2 + g + i] })),
      busyMs: performance.now() - t0,
    };
  } finally {
    tf.dispose(out);
  }
}

port.on('message', (msg: ReplicaRequest) => {
  try {
    if (msg.kind === 'step') {
      const reply = step(msg);
      const transfer = reply.kind === 'grads' ? [...reply.grads.map((g) => g.buffer as ArrayBuffer), reply.logits.buffer as ArrayBuffer] : [];
      post(reply, transfer);
      return;
    }
    if (msg.apply !== null) apply(msg.apply);
    if (msg.kind === 'apply') post({ kind: 'applied' });
    else post({ kind: 'snapshot', params: vars.map((v) => Float32Array.from(v.dataSync() as Float32Array)) });
  } catch (err) {
    post({
      kind: 'failed',
      message: err instanceof Error ? err.message : String(err),
      code: isFusionError(err) ? err.code : null,
      details: isFusionError(err) ? err.details : null,
    });
  }
});
