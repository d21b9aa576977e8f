/**
 * The all-reduce that data-parallel BatchNorm needs in the middle of a
 * forward (and backward) pass: every replica contributes a per-channel
 * vector (its shard's sum of x, or of (x − μ)²) and every replica gets the
 * sum over all replicas, so each normalises with the full batch's mean and
 * variance — the statistics single-thread training uses.
 *
 * tfjs runs a net synchronously, so the exchange is synchronous too: a
 * SharedArrayBuffer holds one slot per replica, and an Atomics barrier
 * waits until every participant has written its slot. The sum is formed in
 * rank order (slot 0 + slot 1 + …) in float32 by every replica alike, so all
 * replicas get bit-identical statistics and a run is deterministic for a
 * given replica count.
 *
 * Two banks of slots alternate between consecutive exchanges: a replica can
 * only be one exchange ahead of the slowest (the barrier stops it there), so
 * it never overwrites a slot another replica is still reading.
 *
 * The exchange is differentiable (tf.customGrad): the gradient of a sum over
 * replicas with respect to each contribution is the sum over replicas of the
 * upstream gradients, i.e. another all-reduce, made in the backward pass.
 * Every replica runs the same graph, so their exchanges pair up in order.
 */
import * as tf from '@tensorflow/tfjs';

/** Int32 words before the float slots: the barrier counter. */
const CONTROL_WORDS = 4;

export interface ExchangeLayout {
  /** Replicas that may take part (the worker count). */
  replicas: number;
  /** Longest vector exchanged (the widest BatchNorm). */
  width: number;
}

/** The shared memory an exchange needs, created once by the coordinator and handed to every replica. */
export function exchangeBuffer({ replicas, width }: ExchangeLayout): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_WORDS * 4 + 2 * replicas * Math.max(1, width) * 4);
}

/** Resets the barrier; only while no replica is inside a step (the coordinator, between steps). */
export function resetExchange(buffer: SharedArrayBuffer): void {
  Atomics.store(new Int32Array(buffer, 0, CONTROL_WORDS), 0, 0);
}

/** One replica's side of the exchange for one training step. */
export class ReplicaExchange {
  private readonly control: Int32Array;
  private readonly slots: Float32Array;
  /** Exchanges made in this step. */
  private count = 0;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly layout: ExchangeLayout,
    /** This replica's position (its shard's place in the batch). */
    readonly rank: number,
    /** Replicas in this step (a batch smaller than the worker count leaves some out). */
    readonly participants: number,
    /** Samples in the whole batch, over all replicas. */
    readonly batchSize: number,
  ) {
    if (rank < 0 || rank >= participants || participants > layout.replicas) throw new Error(`replica ${rank} of ${participants} (at most ${layout.replicas})`);
    this.control = new Int32Array(buffer, 0, CONTROL_WORDS);
    this.slots = new Float32Array(buffer, CONTROL_WORDS * 4);
  }

  /** Σ over replicas of `local` (float32, in rank order); the same array in every replica. */
  sumAcross(local: ArrayLike<number>): Float32Array {
    const { width, replicas } = this.layout;
    const n = local.length;
    if (n > width) throw new Error(`exchange of ${n} values exceeds the slot width ${width}`);
    const bank = (this.count++ % 2) * replicas * width;
    this.slots.set(local, bank + this.rank * width);
    this.barrier(this.count * this.participants);
    const out = new Float32Array(n);
    for (let r = 0; r < this.participants; r++) {
      const base = bank + r * width;
      for (let c = 0; c < n; c++) out[c] += this.slots[base + c];
    }
    return out;
  }

  /** Differentiable Σ over replicas of a vector tensor (see the file comment). */
  readonly allReduce: (local: tf.Tensor1D) => tf.Tensor1D = tf.customGrad(((local: tf.Tensor1D) => ({
    value: tf.tensor1d(this.sumAcross(local.dataSync())),
    gradFunc: (dy: tf.Tensor1D) => tf.tensor1d(this.sumAcross(dy.dataSync())),
  })) as unknown as Parameters<typeof tf.customGrad>[0]) as (local: tf.Tensor1D) => tf.Tensor1D;

  private barrier(target: number): void {
    const arrived = Atomics.add(this.control, 0, 1) + 1;
    if (arrived >= target) {
      Atomics.notify(this.control, 0);
      return;
    }
    for (;;) {
      const seen = Atomics.load(this.control, 0);
      if (seen >= target) return;
      Atomics.wait(this.control, 0, seen);
    }
  }
}
