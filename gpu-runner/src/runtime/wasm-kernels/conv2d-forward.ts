/**
 * Conv2D for the wasm backend: Winograd F(2×2, 3×3) (winograd.ts) for the forward pass of a
 * training step, the stock XNNPACK convolution for everything else.
 *
 * Why only under a gradient tape: inference is what the fusion pipeline's outputs are computed
 * from (BatchNorm re-estimation, REPAIR statistics, evaluation), and those are pinned bit for bit
 * across runs and releases; Winograd's sums round differently from XNNPACK's. A training step's
 * forward pass carries no such promise — its gradients already come from this module's kernels —
 * and is where the time goes: 3×3 stride-1 convolutions were a third of a VGG training step.
 * tfjs-core records a tape only while `tf.grads`/`variableGrads`/`optimizer.minimize` run their
 * function (`engine().state.gradientDepth > 0`), so that is exactly the training forward pass.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, callStock } from './wasm-backend.ts';
import { winogradConv, winogradGeometry } from './winograd.ts';

export function conv2D(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap }): TensorInfo {
  const { backend } = args;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = args.attrs as unknown as tf.Conv2DAttrs;
  if (tf.engine().state.gradientDepth > 0 && dataFormat !== 'NCHW' && x.dtype === 'float32' && x.shape.length === 4) {
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      dilations,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const g = winogradGeometry(info);
    if (g !== null) return winogradConv(backend, x, filter, g, false);
  }
  return callStock('Conv2D', args);
}
