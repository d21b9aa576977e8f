/**
 * The CIFAR ResNet of docs/algorithm.md §1.3: a 3×3 stride-1 stem conv (+BN) and
 * ReLU; stages of BasicBlocks, the first block of every stage after the
 * first with stride 2; global average pooling; `linear`.
 *
 *   BasicBlock: out = ReLU(BN2(conv2(ReLU(BN1(conv1 x)))) + shortcut(x))
 *
 * where shortcut is the identity, or a 1×1 conv (+BN) with the block's
 * stride when the stride or the channel count changes.
 *
 * Taps, in parameter order (conv1, conv2, shortcut.0 within a block), each
 * the value that reaches a ReLU or an addition:
 *  - stem and conv1: the conv output after BN, before the ReLU;
 *  - conv2: the block's pre-ReLU sum BN2(conv2 …) + shortcut(x), which is
 *    what the official hook ends up holding in the `_nobn` models (the
 *    residual is added in place onto the tensor it stored, §2.2);
 *  - shortcut.0: the shortcut's own output (after its BN, if any);
 *  - linear: the logits.
 */
import * as tf from '@tensorflow/tfjs';
import type { ResNetArch } from '@clafusion/model-format/arch';
import { type NetRun, convLayer, linearLayer, recordMap, recordRows, rowsToNhwc } from './conv.ts';
import type { ApplyOptions, FamilyNet, NetOutput } from './families.ts';
import { type LayerParams, layerParams } from './layers.ts';

function apply(arch: ResNetArch, params: readonly tf.Tensor[], x: tf.Tensor2D, options: ApplyOptions): NetOutput {
  const run: NetRun = { params, training: options.training === true, record: options.record === true, taps: [], runningStats: [], exchange: options.exchange, adjust: options.adjust };
  const layers = layerParams(arch);
  let k = 0;
  const next = (): LayerParams => layers[k++];

  const stem = convLayer(run, next(), rowsToNhwc(x, arch.input));
  recordMap(run, stem);
  let h = tf.relu(stem);
  while (layers[k].spec.role === 'conv1') {
    const conv1 = next();
    const conv2 = next();
    const shortcut = layers[k].spec.role === 'shortcut' ? next() : undefined;

    const a = convLayer(run, conv1, h);
    recordMap(run, a);
    const b = convLayer(run, conv2, tf.relu(a));
    const skip = shortcut === undefined ? h : convLayer(run, shortcut, h);
    const sum = tf.add<tf.Tensor4D>(b, skip);
    recordMap(run, sum);
    if (shortcut !== undefined) recordMap(run, skip);
    h = tf.relu(sum);
  }
  // Adaptive average pooling to 1×1, then flatten: [batch, channels].
  const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
  const logits = linearLayer(run, next(), pooled);
  recordRows(run, logits);
  return { logits, taps: run.taps, runningStats: run.runningStats };
}

export const resnetNet: FamilyNet<ResNetArch> = {
  apply,
  output: (_arch, logits) => logits,
};
