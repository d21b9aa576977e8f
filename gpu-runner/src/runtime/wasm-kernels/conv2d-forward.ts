/**
 * Conv2D and FusedConv2D for the wasm backend: Winograd F(2×2, 3×3) (winograd.ts) for the forward
 * pass of a training step, the stock XNNPACK convolution for everything else.
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
import { type BackendWasm, type TensorInfo, callStock, heapOffset, simd } from './wasm-backend.ts';
import { winogradConv, winogradGeometry } from './winograd.ts';

interface Args {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}

/** The Winograd output of a taped forward convolution, or null where the stock kernel runs. */
function taped(args: Args): TensorInfo | null {
  const { backend } = args;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = args.attrs as unknown as tf.Conv2DAttrs;
  if (tf.engine().state.gradientDepth === 0 || dataFormat === 'NCHW' || x.dtype !== 'float32' || x.shape.length !== 4) return null;
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
  return g === null ? null : winogradConv(backend, x, filter, g, false);
}

export function conv2D(args: Args): TensorInfo {
  return taped(args) ?? callStock('Conv2D', args);
}

/**
 * tfjs-core fuses a convolution with its bias and activation under a tape only when the
 * activation is linear (the others need the pre-activation for their gradient), so a training
 * step meets FusedConv2D as conv + bias: Winograd, then the bias added in place.
 */
export function fusedConv2D(args: Args): TensorInfo {
  const { backend } = args;
  const { bias, preluActivationWeights } = args.inputs as { bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const { activation } = args.attrs as unknown as tf.FusedConv2DAttrs;
  const outC = (args.inputs.filter as TensorInfo).shape[3];
  const plain = activation === 'linear' && preluActivationWeights === undefined && (bias === undefined || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === outC));
  const y = plain ? taped(args) : null;
  if (y === null) return callStock('FusedConv2D', args);
  if (bias !== undefined) {
    const out = heapOffset(backend, y);
    simd(backend).addRowVector(out, heapOffset(backend, bias), out, tf.util.sizeFromShape(y.shape) / outC, outC * 4);
  }
  return y;
}
