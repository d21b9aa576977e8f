/**
 * Conv2DBackpropInput for the wasm backend, replacing the stock one.
 *
 * tfjs-wasm 4.22's own Conv2DBackpropInput is a scalar C++ loop nest, not XNNPACK: on the tiny
 * CNN it took 54% of a training step (25–60 ms per layer at batch 64, 5–11× the forward conv).
 * Faster formulations, all exact up to float rounding:
 *  - 3×3, stride 1, channels in SIMD-sized multiples: Winograd F(2×2, 3×3) on dy with the rotated
 *    filter (winograd.ts; 2–3× the XNNPACK path below on the paper's layer widths);
 *  - other stride-1 cases: dx is a stride-1 convolution of dy with the filter rotated 180° and its in/out
 *    channels swapped, padded by (k-1-pad) — run by the backend's XNNPACK Conv2D;
 *  - otherwise: dcols[M, K] = dy[M, Co] · Wᵀ[Co, K] on XNNPACK, then a col2im scatter-add: the SIMD
 *    module's when the input channels are a multiple of 4 (the whole kernel on ResNet's three
 *    stride-2 3×3 convs at batch 64: 5.1 / 3.1 / 2.0 → 2.4 / 1.5 / 1.4 ms CPU time against the
 *    JS loop), this file's JS loop otherwise.
 */
import * as tf from '@tensorflow/tfjs';
import { type PatchGeometry, geometryFrom } from './im2col.ts';
import { type BackendWasm, type TensorInfo, callWasmKernel, dispose, f32, heapOffset, matMul, simd, view } from './wasm-backend.ts';
import { winogradApplies, winogradConv } from './winograd.ts';

/** W[kh,kw,ci,co] → rotated 180° and channel-swapped W'[kh,kw,co,ci] = W[kH-1-kh, kW-1-kw, ci, co]. */
function flipFilter(w: Float32Array, kH: number, kW: number, ci: number, co: number, out: Float32Array): void {
  for (let kh = 0; kh < kH; kh++) {
    for (let kw = 0; kw < kW; kw++) {
      const src = ((kH - 1 - kh) * kW + (kW - 1 - kw)) * ci * co;
      const dst = (kh * kW + kw) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) out[dst + o * ci + i] = w[src + i * co + o];
      }
    }
  }
}

/** W[K, Co] → Wᵀ[Co, K]. */
function transposeFilter(w: Float32Array, k: number, co: number, out: Float32Array): void {
  for (let i = 0; i < k; i++) {
    for (let o = 0; o < co; o++) out[o * k + i] = w[i * co + o];
  }
}

/** dx[n, ih, iw, :] += dcols[(n,oh,ow), (kh,kw,:)] for every in-image tap; dx must start zeroed. */
export function col2imAdd(dcols: Float32Array, g: PatchGeometry, dx: Float32Array): void {
  const { batch, inH, inW, inC, outH, outW, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft } = g;
  const k = kH * kW * inC;
  let row = 0;
  for (let n = 0; n < batch; n++) {
    const img = n * inH * inW * inC;
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++, row += k) {
        for (let kh = 0; kh < kH; kh++) {
          const ih = oh * strideH + kh * dilationH - padTop;
          if (ih < 0 || ih >= inH) continue;
          for (let kw = 0; kw < kW; kw++) {
            const iw = ow * strideW + kw * dilationW - padLeft;
            if (iw < 0 || iw >= inW) continue;
            const dst = img + (ih * inW + iw) * inC;
            const src = row + (kh * kW + kw) * inC;
            for (let c = 0; c < inC; c++) dx[dst + c] += dcols[src + c];
          }
        }
      }
    }
  }
}

export function conv2DBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}): TensorInfo {
  const { backend } = args;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (dataFormat === 'NCHW') {
    throw new Error("wasm Conv2DBackpropInput supports dataFormat 'NHWC' only, like the wasm backend's Conv2D");
  }
  const filterShape = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(inputShape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const [kH, kW, ci, co] = filterShape;
  const { top, bottom, left, right } = info.padInfo;
  const padT = kH - 1 - top;
  const padB = kH - 1 - bottom;
  const padL = kW - 1 - left;
  const padR = kW - 1 - right;

  if (info.strideHeight === 1 && info.strideWidth === 1 && Math.min(padT, padB, padL, padR) >= 0) {
    // dy → dx is itself a stride-1 convolution (dy's co channels in, ci out), padded by k-1-pad.
    if (winogradApplies(kH, kW, [1, 1], [info.dilationHeight, info.dilationWidth], co, ci)) {
      const [batch, inH, inW] = inputShape;
      return winogradConv(backend, dy, filter, { batch, inH: info.outHeight, inW: info.outWidth, inC: co, outH: inH, outW: inW, outC: ci, padTop: padT, padLeft: padL }, true);
    }
    const flipped = backend.makeOutput([kH, kW, co, ci], 'float32');
    flipFilter(f32(backend, filter), kH, kW, ci, co, f32(backend, flipped));
    const dx = callWasmKernel(
      'Conv2D',
      backend,
      { x: dy, filter: flipped },
      { strides: 1, dilations: 1, pad: [[0, 0], [padT, padB], [padL, padR], [0, 0]], dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap,
    );
    dispose(backend, flipped);
    return view(dx, inputShape);
  }

  const g = geometryFrom(info);
  const k = kH * kW * ci;
  const m = g.batch * g.outH * g.outW;
  const wT = backend.makeOutput([co, k], 'float32');
  transposeFilter(f32(backend, filter), k, co, f32(backend, wT));
  const dcols = matMul(backend, view(dy, [m, co]), wT, m, co, k);
  dispose(backend, wT);
  const dx = backend.makeOutput(inputShape, 'float32');
  const dxData = f32(backend, dx);
  dxData.fill(0);
  if (ci % 4 === 0) {
    simd(backend).col2imAdd(
      heapOffset(backend, dcols), heapOffset(backend, dx), g.batch, g.outH, g.outW, g.inH, g.inW, ci * 4,
      kH, kW, g.strideH, g.strideW, g.dilationH, g.dilationW, g.padTop, g.padLeft,
    );
  } else {
    col2imAdd(f32(backend, dcols), g, dxData);
  }
  dispose(backend, dcols);
  return dx;
}
