/**
 * One replica of data-parallel training (data-parallel-train.ts), in its own
 * worker thread with its own tfjs backend and a full copy of the model and
 * the optimiser state.
 *
 * A replica is kept warm between training runs: each run starts with an
 * `init` message carrying the model. Per step it first applies the previous step's update (the gradients summed
 * over all replicas, identical for every replica, so the copies stay
 * bit-identical), then computes its shard's loss and gradients; BatchNorm
 * layers meet the other replicas half-way through the pass to combine their
 * batch statistics (replica-exchange.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import type { Arch } from '@clafusion/model-format/arch';
import { initBackend } from '../../runtime/backend.ts';
import { isFusionError } from '@clafusion/model-format/errors';
import { batchGradients } from './batch-gradients.ts';
import type { ReplicaInit, ReplicaReply, ReplicaRequest, ReplicaUpdate } from './data-parallel-train.ts';
import type { DistillOptions } from './distill-loss.ts';
import { type FamilyNet, familyNet } from './families.ts';
import { runningStatIndices } from './layers.ts';
import { uploadParams } from './params.ts';
import { ReplicaExchange } from './replica-exchange.ts';
import { Sgd } from './sgd.ts';
import { Teachers } from './teachers.ts';

const port = parentPort;
if (port === null) throw new Error('data-parallel-replica.ts must run in a worker thread');
const post = (reply: ReplicaReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

/** The model being trained; a replica serves one training run after another (data-parallel-train.ts keeps it warm). */
class Run {
  readonly arch: Arch;
  readonly net: FamilyNet;
  readonly vars: tf.Variable[];
  readonly trainable: tf.Variable[];
  readonly sgd: Sgd;
  readonly teacher?: { teachers: Teachers; options: DistillOptions };

  constructor(readonly init: ReplicaInit) {
    this.arch = init.model.arch;
    this.net = familyNet(this.arch);
    const buffers = runningStatIndices(this.arch);
    const initial = uploadParams(init.model);
    this.vars = initial.map((t, i) => tf.variable(t, !buffers.has(i)));
    tf.dispose(initial);
    this.trainable = this.vars.filter((_, i) => !buffers.has(i));
    this.sgd = new Sgd(this.trainable, { momentum: init.momentum, weightDecay: init.weightDecay });
    if (init.teacher) this.teacher = { teachers: new Teachers(init.teacher.models, this.arch), options: init.teacher };
  }

  dispose(): void {
    this.teacher?.teachers.dispose();
    this.sgd.dispose();
    tf.dispose(this.vars);
  }
}

let run: Run | null = null;
let backend: string | null = null;

async function start(init: ReplicaInit): Promise<void> {
  run?.dispose();
  run = null;
  if (backend !== init.backend) {
    await initBackend({ env: { CLAFUSION_BACKEND: init.backend } });
    backend = init.backend;
  }
  run = new Run(init);
}

function apply(update: ReplicaUpdate): void {
  const { sgd, trainable, vars } = run!;
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
  const { arch, net, vars, trainable, teacher, init } = run!;
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
    const read = out.map((t) => new Float32Array(t.dataSync() as Float32Array));
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
    if (msg.kind === 'init') {
      start(msg.init).then(() => post({ kind: 'ready' }), fail);
      return;
    }
    if (msg.kind === 'step') {
      const reply = step(msg);
      const transfer = reply.kind === 'grads' ? [...reply.grads.map((g) => g.buffer as ArrayBuffer), reply.logits.buffer as ArrayBuffer] : [];
      post(reply, transfer);
      return;
    }
    if (msg.apply !== null) apply(msg.apply);
    if (msg.kind === 'apply') post({ kind: 'applied' });
    else post({ kind: 'snapshot', params: run!.vars.map((v) => new Float32Array(v.dataSync() as Float32Array)) });
  } catch (err) {
    fail(err);
  }
});

function fail(err: unknown): void {
  post({
    kind: 'failed',
    message: err instanceof Error ? err.message : String(err),
    code: isFusionError(err) ? err.code : null,
    details: isFusionError(err) ? err.details : null,
  });
}

// Load the backend the coordinator uses now before the first run asks for it.
const preferred = (workerData as { backend?: ReplicaInit['backend'] } | undefined)?.backend;
if (preferred !== undefined) {
  try {
    await initBackend({ env: { CLAFUSION_BACKEND: preferred } });
    backend = preferred;
  } catch {
    // Left to the first run's init, which reports the failure.
  }
}
// The thread's first message: it is up and takes `init`.
post({ kind: 'booted' });
