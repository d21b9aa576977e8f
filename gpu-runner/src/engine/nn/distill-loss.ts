/**
 * The knowledge-distillation loss of the official `distillation_big_only.py`
 * (docs/algorithm.md §10.2):
 *
 *   L = α · T² · KLDiv_mean( log_softmax(s/T) ‖ softmax(t/T) ) + (1 − α) · CE(s, y)
 *
 * KLDiv_mean is PyTorch's `KLDivLoss(reduction="mean")`: Σ p_t (log p_t − log p_s)
 * averaged over all batch × class elements, not per sample — so with C
 * classes it is C times smaller than the per-sample KL. α (the paper's γ)
 * weighs the distillation term, which carries the T² factor.
 */
import * as tf from '@tensorflow/tfjs';
import { FusionError } from '@clafusion/model-format/errors';

export interface DistillOptions {
  /** Weight of the distillation term (the paper's γ), in [0, 1]. */
  alpha: number;
  /** Softmax temperature T > 0. */
  temperature: number;
}

export function checkDistillOptions(options: DistillOptions): void {
  if (!(options.alpha >= 0 && options.alpha <= 1)) {
    throw new FusionError('INVALID_ARGUMENT', `alpha must be in [0, 1], got ${options.alpha}`, { field: 'alpha' });
  }
  if (!(options.temperature > 0) || !Number.isFinite(options.temperature)) {
    throw new FusionError('INVALID_ARGUMENT', `temperature must be a positive number, got ${options.temperature}`, { field: 'temperature' });
  }
}

/**
 * The loss as a scalar tensor. `student` and `teacher` are [batch, classes]
 * logits; `targets` is the one-hot [batch, classes] label matrix.
 */
export function distillationLoss(student: tf.Tensor2D, teacher: tf.Tensor2D, targets: tf.Tensor2D, options: DistillOptions): tf.Scalar {
  const { alpha, temperature: T } = options;
  return tf.tidy(() => {
    const logPs = tf.logSoftmax(tf.div(student, T));
    const logPt = tf.logSoftmax(tf.div(teacher, T));
    const pt = tf.exp(logPt);
    // xlogy semantics: a zero target probability contributes 0, as in PyTorch.
    const kl = tf.mean(tf.mul(pt, tf.sub(logPt, logPs)));
    const ce = tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(student)), 1)));
    return tf.add(tf.mul(alpha * T * T, kl), tf.mul(1 - alpha, ce)) as tf.Scalar;
  });
}
