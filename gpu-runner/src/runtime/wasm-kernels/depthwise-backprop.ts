/**
 * Depthwise-convolution gradients for the wasm backend, written directly over typed arrays.
 *
 * A depthwise conv does only kH·kW·mult multiply-adds per input element, too little work for a
 * GEMM to pay off (each channel is its own tiny product), so plain loops with channel-contiguous
 * inner loops are the fast formulation here. Filter layout [kH, kW, C, mult]; output channel
 * c·mult + q comes from input channel c and multiplier q, as in tfjs and TensorFlow.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, f32 } from './wasm-backend.ts';

interface DepthwiseAttrs {
  strides: [number, number] | number;
  dilations: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Visits every (output position, in-image filter tap) pair of a depthwise conv: calls
 * visit(xBase, dyBase, tapBase) with the offsets of x[n,ih,iw,0], dy[n,oh,ow,0] and f[kh,kw,0,0].
 */
function forEachTap(info: tf.backend_util.Conv2DInfo, visit: (xBase: number, dyBase: number, tapBase: number) => void): void {
  const { batchSize, inHeight: inH, inWidth: inW, inChannels: c, outHeight: outH, outWidth: outW, outChannels } = info;
  const { filterHeight: kH, filterWidth: kW, strideHeight: sH, strideWidth: sW, dilationHeight: dH, dilationWidth: dW } = info;
  const padT = info.padInfo.top;
  const padL = info.padInfo.left;
  const tapSize = outChannels; // C · mult
  let dyBase = 0;
  for (let n = 0; n < batchSize; n++) {
    const img = n * inH * inW * c;
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++, dyBase += outChannels) {
        for (let kh = 0; kh < kH; kh++) {
          const ih = oh * sH + kh * dH - padT;
          if (ih < 0 || ih >= inH) continue;
          for (let kw = 0; kw < kW; kw++) {
            const iw = ow * sW + kw * dW - padL;
            if (iw < 0 || iw >= inW) continue;
            visit(img + (ih * inW + iw) * c, dyBase, (kh * kW + kw) * tapSize);
          }
        }
      }
    }
  }
}

export function depthwiseConv2dNativeBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}): TensorInfo {
  const { backend } = args;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as DepthwiseAttrs & { filterShape: [number, number, number, number] };
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const c = info.inChannels;
  const mult = info.outChannels / c;
  const dw = backend.makeOutput(attrs.filterShape, 'float32');
  const out = f32(backend, dw);
  const xs = f32(backend, x);
  const g = f32(backend, dy);
  out.fill(0);
  forEachTap(info, (xBase, dyBase, tapBase) => {
    for (let ch = 0; ch < c; ch++) {
      const v = xs[xBase + ch];
      const o = ch * mult;
      for (let q = 0; q < mult; q++) out[tapBase + o + q] += v * g[dyBase + o + q];
    }
  });
  return dw;
}

export function depthwiseConv2dNativeBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}): TensorInfo {
  const { backend } = args;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as DepthwiseAttrs & { inputShape: [number, number, number, number] };
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const c = info.inChannels;
  const mult = info.outChannels / c;
  const dx = backend.makeOutput(attrs.inputShape, 'float32');
  const out = f32(backend, dx);
  const w = f32(backend, filter);
  const g = f32(backend, dy);
  out.fill(0);
  forEachTap(info, (xBase, dyBase, tapBase) => {
    for (let ch = 0; ch < c; ch++) {
      const o = ch * mult;
      let acc = 0;
      for (let q = 0; q < mult; q++) acc += g[dyBase + o + q] * w[tapBase + o + q];
      out[xBase + ch] += acc;
    }
  });
  return dx;
}
