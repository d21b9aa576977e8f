/**
 * Plain-SGD training of a TrainingNet on the current tfjs backend, split into "compute gradients"
 * and "apply gradients" so that data-parallel workers can average gradients in between.
 */
import * as tf from '@tensorflow/tfjs';
import type { Params, TrainingNet } from './training-nets.ts';

export class SgdTrainer {
  private readonly vars: tf.Variable[];
  private readonly params: Params;

  constructor(
    readonly net: TrainingNet,
    initial: Float32Array[],
    readonly learningRate: number,
  ) {
    this.vars = net.shapes.map(([name, shape], i) => tf.variable(tf.tensor(initial[i], shape), true, `${net.name}/${name}/${Math.random()}`));
    this.params = Object.fromEntries(net.shapes.map(([name], i) => [name, this.vars[i]]));
  }

  /** Gradients of the batch-mean loss, in `net.shapes` order, plus the loss. */
  gradients(x: Float32Array, labels: Int32Array): { grads: Float32Array[]; loss: number } {
    const n = labels.length;
    // The host copies are made after tidy returns: tidy walks whatever its callback returns looking
    // for tensors to keep, and walks a typed array element by element (for...in, plus a Set insert
    // per element) — for ResNet-18's 0.2 M parameters that was 80 ms per step, a quarter of it.
    const [value, grads] = tf.tidy(() => {
      const xs = tf.tensor4d(x, [n, 32, 32, 3]);
      const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 10) as tf.Tensor2D;
      const r = tf.variableGrads(() => this.net.loss(this.params, xs, ys), this.vars);
      return [r.value, this.vars.map((v) => r.grads[v.name])] as const;
    });
    try {
      return { grads: grads.map((g) => Float32Array.from(g.dataSync() as Float32Array)), loss: value.dataSync()[0] };
    } finally {
      tf.dispose([value, ...grads]);
    }
  }

  /** p ← p − lr·g for every parameter. */
  apply(grads: Float32Array[]): void {
    tf.tidy(() => {
      this.vars.forEach((v, i) => v.assign(tf.sub(v, tf.mul(tf.tensor(grads[i], v.shape), this.learningRate))));
    });
  }

  /** One full SGD step on this thread. */
  step(x: Float32Array, labels: Int32Array): number {
    const { grads, loss } = this.gradients(x, labels);
    this.apply(grads);
    return loss;
  }

  snapshot(): Float32Array[] {
    return this.vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  }

  dispose(): void {
    for (const v of this.vars) v.dispose();
  }
}
