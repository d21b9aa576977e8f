/**
 * The loss and gradients of one training batch in PyTorch's train() mode,
 * shared by single-thread training (train.ts) and the data-parallel replicas
 * (data-parallel-replica.ts), so both differentiate the very same graph.
 */
import * as tf from '@tensorflow/tfjs';
import type { Arch } from '@clafusion/model-format/arch';
import { type DistillOptions, distillationLoss } from './distill-loss.ts';
import { type FamilyNet, type RunningStatUpdate } from './families.ts';
import type { ReplicaExchange } from './replica-exchange.ts';
import type { Teachers } from './teachers.ts';

export interface BatchGradients {
  /** The loss (see batchGradients for a shard's). */
  value: tf.Scalar;
  /** Gradient per trainable variable name. */
  grads: tf.NamedTensorMap;
  /** [rows, classes], kept: the caller disposes it. */
  logits: tf.Tensor2D;
  /** New BatchNorm running statistics, kept: the caller assigns and disposes them. */
  stats: RunningStatUpdate[];
}

/**
 * Cross-entropy (NLL of log-softmax, batch mean), or with `teacher` the
 * distillation loss, of `x` against one-hot `targets`, and its gradients.
 *
 * With `exchange`, `x` is one replica's shard of a larger batch: BatchNorm
 * uses the whole batch's statistics and the loss is the shard's share of
 * the whole batch's mean loss (shard mean × rows / batch size), so the sum of
 * the replicas' losses and gradients is the whole batch's.
 */
export function batchGradients(
  arch: Arch,
  net: FamilyNet,
  vars: readonly tf.Variable[],
  trainable: tf.Variable[],
  x: tf.Tensor2D,
  targets: tf.Tensor2D,
  teacher?: { teachers: Teachers; options: DistillOptions },
  exchange?: ReplicaExchange,
): BatchGradients {
  const soft = teacher?.teachers.meanLogits(x);
  let logits: tf.Tensor2D | undefined;
  let stats: RunningStatUpdate[] = [];
  const { value, grads } = tf.variableGrads(() => {
    // keep: variableGrads disposes everything its function creates except
    // the loss; the logits are wanted for the accuracy and the running
    // statistics for the update.
    const out = net.apply(arch, vars, x, { training: true, exchange });
    logits = tf.keep(out.logits);
    stats = out.runningStats.map((u) => ({ index: u.index, value: tf.keep(u.value) }));
    const loss =
      soft !== undefined
        ? distillationLoss(logits, soft, targets, teacher!.options)
        : // NLL of log-softmax, averaged over the batch (reduction="mean").
          tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1)));
    return exchange === undefined ? (loss as tf.Scalar) : (tf.mul(loss, x.shape[0] / exchange.batchSize) as tf.Scalar);
  }, trainable);
  soft?.dispose();
  return { value, grads, logits: logits!, stats };
}
