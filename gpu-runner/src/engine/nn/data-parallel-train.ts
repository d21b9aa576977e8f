/**
 * Data-parallel training over worker threads: the coordinator side.
 *
 * tfjs-wasm runs on one thread in Node, so one trainer leaves the other
 * cores idle. Here each of `threads` replicas (data-parallel-replica.ts)
 * holds a copy of the model and the SGD state; every batch is cut into
 * contiguous shards, one per replica, each replica computes its shard's
 * share of the batch-mean loss and its gradients, and the coordinator sums
 * the replicas' gradients in rank order (a fixed order, so a run is
 * deterministic for a given seed and thread count) and sends the sum back
 * with the next batch, when every replica applies the same update.
 *
 * Without BatchNorm this equals single-thread training up to float32
 * rounding: the whole batch's gradient is formed as a sum of shard sums
 * instead of one sum. BatchNorm layers exchange their shard statistics
 * (replica-exchange.ts), so they normalise with the whole batch's mean and
 * variance and their running statistics follow single-thread training's,
 * again up to rounding.
 *
 * The coordinator keeps its own copy of the parameters only for what runs on
 * its thread (evaluation, checkpoints): `sync` copies replica 0's into it.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { Replica } from '../../runtime/wasm-kernels/data-parallel.ts';
import { type Model, paramSpecs } from '@clafusion/model-format/arch';
import { FusionError, type FusionErrorCode } from '@clafusion/model-format/errors';
import { layerParams } from './layers.ts';
import { type ExchangeLayout, exchangeBuffer, resetExchange } from './replica-exchange.ts';

/** Backends whose kernels run on the calling thread, so that more threads help. */
export const DATA_PARALLEL_BACKENDS = ['wasm', 'cpu'] as const;

export interface ReplicaInit {
  model: Model;
  momentum: number;
  weightDecay: number;
  teacher?: { models: Model[]; alpha: number; temperature: number };
  backend: (typeof DATA_PARALLEL_BACKENDS)[number];
  buffer: SharedArrayBuffer;
  layout: ExchangeLayout;
}

/** An SGD update: the summed gradients (trainable order), the rate, and the new running statistics. */
export interface ReplicaUpdate {
  grads: Float32Array[];
  lr: number;
  stats: { index: number; data: Float32Array }[];
}

export type ReplicaRequest =
  | { kind: 'init'; init: ReplicaInit }
  | { kind: 'step'; apply: ReplicaUpdate | null; x: Float32Array; targets: Float32Array; rank: number; participants: number; batchSize: number }
  | { kind: 'apply'; apply: ReplicaUpdate }
  | { kind: 'snapshot'; apply: ReplicaUpdate | null };

export type ReplicaReply =
  | { kind: 'booted' }
  | { kind: 'ready' }
  | { kind: 'applied' }
  | { kind: 'grads'; grads: Float32Array[]; loss: number; logits: Float32Array; stats: { index: number; data: Float32Array }[]; busyMs: number }
  | { kind: 'snapshot'; params: Float32Array[] }
  | { kind: 'failed'; message: string; code: string | null; details: Record<string, unknown> | null };

export interface DataParallelOptions {
  threads: number;
  momentum: number;
  weightDecay: number;
  teacher?: { models: readonly Model[]; alpha: number; temperature: number };
}

const BOOT = new URL('./data-parallel-boot.mjs', import.meta.url);

type TrainingReplica = Replica<ReplicaRequest, ReplicaReply>;

/**
 * Replicas kept warm between training runs of this process. Starting one
 * (tsx, the engine, tfjs and the wasm binary loaded in a fresh thread) costs
 * about 2 s of CPU, more than a small finetuning run; a service job that
 * finetunes several models, or a test file, would pay it per run. Idle
 * replicas do not keep the process alive. A replica whose run failed is
 * terminated, not reused.
 */
const idle: TrainingReplica[] = [];

function spawnReplica(): TrainingReplica {
  // The backend in use now is loaded while the replica waits for its first run.
  const backend = tf.getBackend();
  const workerData = (DATA_PARALLEL_BACKENDS as readonly string[]).includes(backend) ? { backend } : {};
  return new Replica<ReplicaRequest, ReplicaReply>(new Worker(BOOT, { workerData }));
}

/**
 * Starts replicas in the background until `count` are idle, so that a
 * training run that follows (e.g. a job's finetuning after its fusion) does
 * not wait for their start-up.
 */
export function prewarmTrainingReplicas(count: number): void {
  for (let i = idle.length; i < count; i++) {
    const r = spawnReplica();
    r.worker.unref();
    idle.push(r);
  }
}

async function acquire(count: number): Promise<TrainingReplica[]> {
  const taken = idle.splice(0, count).filter((r) => !r.broken);
  while (taken.length < count) taken.push(spawnReplica());
  for (const r of taken) r.worker.ref();
  try {
    await Promise.all(taken.map(async (r) => unwrap(await r.ready, 'booted')));
  } catch (e) {
    // A replica that cannot start: none of this set is kept (they would hold the process open).
    await Promise.all(taken.map((r) => r.worker.terminate()));
    throw e;
  }
  return taken;
}

function release(replicas: TrainingReplica[]): void {
  for (const r of replicas) {
    r.worker.unref();
    idle.push(r);
  }
}

function unwrap<K extends ReplicaReply['kind']>(reply: ReplicaReply, kind: K): Extract<ReplicaReply, { kind: K }> {
  if (reply.kind === 'failed') {
    throw reply.code !== null ? new FusionError(reply.code as FusionErrorCode, reply.message, reply.details ?? {}) : new Error(`training replica failed: ${reply.message}`);
  }
  if (reply.kind !== kind) throw new Error(`training replica answered ${reply.kind}, expected ${kind}`);
  return reply as Extract<ReplicaReply, { kind: K }>;
}

export class DataParallelTrainer {
  /** The summed gradients of the last step, applied by the replicas with their next request. */
  private pending: ReplicaUpdate | null = null;

  private closed = false;

  private constructor(
    private readonly replicas: TrainingReplica[],
    private readonly buffer: SharedArrayBuffer,
  ) {}

  /** Starts `threads` replicas of `model` on the current backend (one of DATA_PARALLEL_BACKENDS). */
  static async start(model: Model, options: DataParallelOptions): Promise<DataParallelTrainer> {
    const backend = tf.getBackend();
    if (!(DATA_PARALLEL_BACKENDS as readonly string[]).includes(backend)) {
      throw new FusionError('UNSUPPORTED', `data-parallel training runs on the ${DATA_PARALLEL_BACKENDS.join(' or ')} backend, not ${backend}`, { field: 'threads' });
    }
    const bnWidths = layerParams(model.arch).flatMap((l) => (l.bn === undefined ? [] : [l.spec.shape[0]]));
    const layout: ExchangeLayout = { replicas: options.threads, width: Math.max(1, ...bnWidths) };
    const buffer = exchangeBuffer(layout);
    const init: ReplicaInit = {
      model,
      momentum: options.momentum,
      weightDecay: options.weightDecay,
      teacher: options.teacher && { ...options.teacher, models: [...options.teacher.models] },
      backend: backend as ReplicaInit['backend'],
      buffer,
      layout,
    };
    const replicas = await acquire(options.threads);
    const trainer = new DataParallelTrainer(replicas, buffer);
    const replies = await trainer.all(replicas.map((r) => r.request({ kind: 'init', init })));
    replies.forEach((r) => unwrap(r, 'ready'));
    return trainer;
  }

  get threads(): number {
    return this.replicas.length;
  }

  /**
   * One SGD step at rate `lr` on the batch `x` ([rows, features]) with one-hot
   * `targets`: the batch-mean loss and the logits the loss was computed with.
   */
  async step(x: Float32Array, targets: Float32Array, classes: number, lr: number): Promise<{ loss: number; logits: Float32Array }> {
    const n = targets.length / classes;
    const features = x.length / n;
    const k = Math.min(this.replicas.length, n);
    const bounds = Array.from({ length: k + 1 }, (_, i) => Math.round((i * n) / k));
    const apply = this.pending;
    this.pending = null;
    resetExchange(this.buffer);
    const replies = await this.all([
      ...this.replicas.slice(0, k).map((r, i) => {
        const xs = x.slice(bounds[i] * features, bounds[i + 1] * features);
        const ts = targets.slice(bounds[i] * classes, bounds[i + 1] * classes);
        return r.request({ kind: 'step', apply, x: xs, targets: ts, rank: i, participants: k, batchSize: n }, [xs.buffer, ts.buffer]);
      }),
      // Replicas left out of a small batch still apply the previous update.
      ...(apply === null ? [] : this.replicas.slice(k).map((r) => r.request({ kind: 'apply', apply }))),
    ]);
    const shards = replies.slice(0, k).map((r) => unwrap(r, 'grads'));
    replies.slice(k).forEach((r) => unwrap(r, 'applied'));
    // Σ in rank order: the same order every run.
    const grads = shards[0].grads;
    let loss = shards[0].loss;
    const logits = new Float32Array(n * classes);
    shards.forEach((s, i) => {
      logits.set(s.logits, bounds[i] * classes);
      if (i === 0) return;
      loss += s.loss;
      s.grads.forEach((g, j) => {
        const sum = grads[j];
        for (let e = 0; e < g.length; e++) sum[e] += g[e];
      });
    });
    // Every replica computed the same running statistics from the exchanged batch statistics.
    this.pending = { grads, lr, stats: shards[0].stats };
    return { loss, logits };
  }

  /** Applies the last update everywhere and returns the parameters (paramSpecs order) of replica 0. */
  async parameters(): Promise<Float32Array[]> {
    const apply = this.pending;
    this.pending = null;
    const replies = await this.all(this.replicas.map((r, i) => (i === 0 ? r.request({ kind: 'snapshot', apply }) : apply === null ? Promise.resolve({ kind: 'applied' } as ReplicaReply) : r.request({ kind: 'apply', apply }))));
    replies.slice(1).forEach((r) => unwrap(r, 'applied'));
    return unwrap(replies[0], 'snapshot').params;
  }

  /** Copies the replicas' parameters into `vars` (paramSpecs order). */
  async sync(model: Model, vars: readonly tf.Variable[]): Promise<void> {
    const params = await this.parameters();
    const specs = paramSpecs(model.arch);
    tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(params[i], specs[i].shape))));
  }

  /** Returns the replicas to the warm pool, or after a failure ends them. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.failed) await Promise.all(this.replicas.map((r) => r.worker.terminate()));
    else release(this.replicas);
  }

  private failed = false;

  /**
   * Waits for every request. A replica that fails stops the others at once:
   * they may be waiting for it in an exchange.
   */
  private async all(requests: Promise<ReplicaReply>[]): Promise<ReplicaReply[]> {
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown) => {
      if (failure !== undefined) return;
      failure = { error };
      this.failed = true;
      void Promise.all(this.replicas.map((r) => r.worker.terminate()));
    };
    await Promise.allSettled(
      requests.map((p) =>
        p.then(
          (r) => {
            if (r.kind === 'failed') fail(r);
          },
          fail,
        ),
      ),
    );
    if (failure !== undefined) {
      const { error } = failure as { error: unknown };
      if (typeof error === 'object' && error !== null && (error as ReplicaReply).kind === 'failed') unwrap(error as ReplicaReply, 'grads');
      throw error;
    }
    return Promise.all(requests);
  }
}
