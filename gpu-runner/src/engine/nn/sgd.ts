/**
 * Stochastic gradient descent with PyTorch's exact update (torch.optim.SGD,
 * dampening 0, no Nesterov), so a recipe ported from the paper's scripts
 * behaves the same:
 *
 *   d = g + wd·p
 *   v = d                 on the first step
 *   v = μ·v + d           afterwards
 *   p = p − lr·v
 *
 * The order of the float32 operations follows PyTorch's in-place calls.
 */
import * as tf from '@tensorflow/tfjs';
import { FusionError } from '@clafusion/model-format/errors';

export interface SgdOptions {
  momentum?: number;
  weightDecay?: number;
}

export class Sgd {
  private readonly params: readonly tf.Variable[];
  private readonly momentum: number;
  private readonly weightDecay: number;
  /** Momentum buffers, created on the first step like PyTorch's state. */
  private buffers: tf.Variable[] | undefined;

  constructor(params: readonly tf.Variable[], options: SgdOptions = {}) {
    this.params = params;
    this.momentum = nonNegative(options.momentum ?? 0, 'momentum');
    this.weightDecay = nonNegative(options.weightDecay ?? 0, 'weightDecay');
  }

  /** Applies one update with gradients `grads` (same order as the parameters). */
  step(grads: readonly tf.Tensor[], lr: number): void {
    if (grads.length !== this.params.length) {
      throw new FusionError('INVALID_ARGUMENT', `got ${grads.length} gradients for ${this.params.length} parameters`);
    }
    tf.tidy(() => {
      const first = this.buffers === undefined;
      const buffers: tf.Variable[] = [];
      this.params.forEach((p, i) => {
        // Skipping the multiply-add when wd = 0 keeps d bit-identical to g.
        const d = this.weightDecay === 0 ? grads[i] : tf.add(grads[i], tf.mul(p, this.weightDecay));
        let direction = d;
        if (this.momentum !== 0) {
          if (first) {
            buffers.push(tf.variable(d, false));
          } else {
            const buf = this.buffers![i];
            buf.assign(tf.add(tf.mul(buf, this.momentum), d));
            buffers.push(buf);
          }
          direction = buffers[i];
        }
        p.assign(tf.sub(p, tf.mul(direction, lr)));
      });
      if (first && this.momentum !== 0) this.buffers = buffers;
    });
  }

  /** Releases the momentum buffers (the parameters belong to the caller). */
  dispose(): void {
    if (this.buffers !== undefined) tf.dispose(this.buffers);
    this.buffers = undefined;
  }
}

function nonNegative(value: number, field: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new FusionError('INVALID_ARGUMENT', `${field} must be a finite number ≥ 0, got ${value}`, { field });
  }
  return value;
}
