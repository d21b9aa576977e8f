/**
 * BatchNorm2d exactly as PyTorch computes it, on channel-last tensors.
 *
 * Eval mode normalises with the running statistics. Training mode normalises
 * with the batch's mean and biased variance over every axis but the channel
 * one (N, H, W), and moves the running statistics towards the batch's:
 *
 *   running_mean ← (1 − m)·running_mean + m·mean
 *   running_var  ← (1 − m)·running_var  + m·var·n/(n − 1)     (unbiased)
 *
 * with m = 0.1 and n = N·H·W, as torch.nn.BatchNorm2d's defaults
 * (momentum 0.1, eps 1e-5, track_running_stats) do.
 */
import * as tf from '@tensorflow/tfjs';
import { FusionError } from '@clafusion/model-format/errors';
import type { BnIndices } from './layers.ts';
import type { ReplicaExchange } from './replica-exchange.ts';

export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/** A running statistic's new value, for the parameter at `index`. */
export interface RunningStatUpdate {
  index: number;
  value: tf.Tensor1D;
}

/**
 * y = (x − μ)/√(σ² + eps)·γ + β per channel (the last axis of `x`), written
 * as x·scale + shift so the full-size tensor sees two broadcast ops. In
 * training mode μ and σ² are the batch's and stay on the gradient tape, so
 * gradients flow through them as in PyTorch; the running-stat updates are
 * appended to `updates`. With `exchange` (data-parallel training, one
 * replica per shard of the batch) μ and σ² are the whole batch's, combined
 * across the replicas (replica-exchange.ts).
 */
export function batchNorm<T extends tf.Tensor>(
  x: T,
  params: readonly tf.Tensor[],
  bn: BnIndices,
  training: boolean,
  updates: RunningStatUpdate[],
  name: string,
  exchange?: ReplicaExchange,
): T {
  const gamma = params[bn.weight] as tf.Tensor1D;
  const beta = params[bn.bias] as tf.Tensor1D;
  let mean = params[bn.runningMean] as tf.Tensor1D;
  let variance = params[bn.runningVar] as tf.Tensor1D;
  if (training) {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const perReplica = x.size / x.shape[x.shape.length - 1];
    const n = exchange === undefined ? perReplica : (perReplica / x.shape[0]) * exchange.batchSize;
    if (n < 2) {
      // PyTorch refuses this too: one value per channel has no variance.
      throw new FusionError('INVALID_ARGUMENT', `BatchNorm ${name} in training mode needs more than 1 value per channel, got ${n}`, {
        field: 'batchSize',
      });
    }
    if (exchange === undefined) {
      const moments = tf.moments(x, axes);
      mean = moments.mean as tf.Tensor1D;
      variance = moments.variance as tf.Tensor1D;
    } else {
      // Two passes like tf.moments: the batch mean first, then the mean squared deviation from it.
      mean = tf.div(exchange.allReduce(tf.sum(x, axes)), n);
      variance = tf.div(exchange.allReduce(tf.sum(tf.square(tf.sub(x, mean)), axes)), n);
    }
    const keep = 1 - BN_MOMENTUM;
    updates.push(
      { index: bn.runningMean, value: tf.add(tf.mul(params[bn.runningMean], keep), tf.mul(mean, BN_MOMENTUM)) },
      {
        index: bn.runningVar,
        value: tf.add(tf.mul(params[bn.runningVar], keep), tf.mul(variance, (BN_MOMENTUM * n) / (n - 1))),
      },
    );
  }
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPS)));
  const shift = tf.sub(beta, tf.mul(mean, scale));
  return tf.add(tf.mul(x, scale), shift) as T;
}
