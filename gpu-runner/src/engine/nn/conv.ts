/**
 * Building blocks shared by the convolutional nets: layout conversion at the
 * NCHW boundary, and conv/linear layers with their bias and BatchNorm.
 *
 * Host data and parameters use PyTorch's layouts (NCHW images, OIHW conv
 * weights); tfjs convolves NHWC images with HWIO filters. Activations stay
 * NHWC inside the nets and are converted only where C,H,W order is visible:
 * the input, the taps, and VGG's flatten before the classifier.
 */
import * as tf from '@tensorflow/tfjs';
import { type RunningStatUpdate, batchNorm } from './batchnorm.ts';
import type { LayerAdjust } from './families.ts';
import type { LayerParams } from './layers.ts';
import { linear } from './linear.ts';
import type { ReplicaExchange } from './replica-exchange.ts';

/** State of one batch through a net: the inputs every layer needs and what it records. */
export interface NetRun {
  /** Parameter tensors in paramSpecs order. */
  params: readonly tf.Tensor[];
  /** BatchNorm uses batch statistics and updates its running ones. */
  training: boolean;
  /** Record taps. */
  record: boolean;
  taps: tf.Tensor2D[];
  runningStats: RunningStatUpdate[];
  /** Data-parallel training: BatchNorm's batch statistics are combined across replicas. */
  exchange?: ReplicaExchange;
  /** Sees (and may replace) every layer's own output; see LayerAdjust. */
  adjust?: LayerAdjust;
}

/** [batch, C·H·W] rows in C,H,W order → NHWC. */
export function rowsToNhwc(x: tf.Tensor2D, [h, w, c]: readonly [number, number, number]): tf.Tensor4D {
  return tf.transpose(tf.reshape(x, [x.shape[0], c, h, w]), [0, 2, 3, 1]);
}

/** NHWC → [batch, C·H·W] rows in C,H,W order (PyTorch's flatten of an NCHW map). */
export function nhwcToRows(x: tf.Tensor4D): tf.Tensor2D {
  const [n, h, w, c] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n, c * h * w]);
}

/** Records a conv layer's value as a tap (flattened in C,H,W order) when the run records. */
export function recordMap(run: NetRun, value: tf.Tensor4D): void {
  if (run.record) run.taps.push(nhwcToRows(value));
}

export function recordRows(run: NetRun, value: tf.Tensor2D): void {
  if (run.record) run.taps.push(value);
}

/**
 * Conv2d (OIHW weight, the layer's stride and padding) + bias + BatchNorm:
 * everything up to, not including, the ReLU.
 */
export function convLayer(run: NetRun, layer: LayerParams, x: tf.Tensor4D): tf.Tensor4D {
  const { spec } = layer;
  const filter = tf.transpose(run.params[layer.weight] as tf.Tensor4D, [2, 3, 1, 0]);
  let y = tf.conv2d(x, filter, spec.stride, spec.padding);
  if (layer.bias !== undefined) y = tf.add(y, run.params[layer.bias]);
  if (layer.bn !== undefined) y = batchNorm(y, run.params, layer.bn, run.training, run.runningStats, spec.bn!, run.exchange);
  return run.adjust === undefined ? y : (run.adjust(layer.index, y) as tf.Tensor4D);
}

/** Linear ([out, in] weight) + bias on [batch, in] rows. */
export function linearLayer(run: NetRun, layer: LayerParams, x: tf.Tensor2D): tf.Tensor2D {
  let y = linear(x, run.params[layer.weight] as tf.Tensor2D);
  if (layer.bias !== undefined) y = tf.add(y, run.params[layer.bias]);
  return run.adjust === undefined ? y : (run.adjust(layer.index, y) as tf.Tensor2D);
}
