/**
 * MaxPoolGrad for the wasm backend, replacing the stock one.
 *
 * The stock kernel (a scalar loop that, per input pixel, rescans every window covering it) took
 * 17% of a tiny-CNN training step, 6× the forward pool. This one uses the forward output the
 * kernel is given anyway: the window's max is known, so per output value it only has to find the
 * first tap equal to it (usually within a couple of reads) and add dy there. That is the cpu
 * backend's rule too (first strictly greater value wins, i.e. the first tap equal to the max), and
 * like cpu a window whose max is not above -Infinity routes no gradient. About 3× faster than the
 * stock kernel; recomputing the argmaxes with the backend's C++ MaxPoolWithArgmax instead measured
 * slower than this (7.9 ms for the first layer alone).
 *
 * Non-overlapping windows (stride = window size, no padding — every 2×2/2 pool of VGG and the
 * benchmark nets) with channels a multiple of 4 go to the SIMD module instead: 4 channels per
 * compare, and since each input element belongs to at most one window dx is written, not
 * accumulated. On the tiny CNN's pools at batch 64 (CPU time, best of 20) that path took 0.9 / 0.28
 * / 0.14 ms against 5.4 / 3.0 ms for this loop on the same shapes with one channel fewer (which
 * takes the loop); other geometries keep the loop.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, f32, heapOffset, simd } from './wasm-backend.ts';

export function maxPoolGrad(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}): TensorInfo {
  const { backend } = args;
  const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight: inH, inWidth: inW, inChannels: c, outHeight: outH, outWidth: outW } = info;
  const { strideHeight: sH, strideWidth: sW, dilationHeight: dH, dilationWidth: dW, effectiveFilterHeight: eH, effectiveFilterWidth: eW } = info;
  const padT = info.padInfo.top;
  const padL = info.padInfo.left;

  const dx = backend.makeOutput(input.shape, 'float32');
  // 'same' can pad at the bottom/right only (padT = padL = 0): then the last window hangs out of the
  // input, which the SIMD kernel does not handle, hence the outH·eH ≤ inH test.
  const tiled = sH === eH && sW === eW && dH === 1 && dW === 1 && padT === 0 && padL === 0 && c % 4 === 0 && outH * eH <= inH && outW * eW <= inW;
  if (tiled) {
    // Rows/columns past the last whole window get no gradient and are not written by the kernel.
    if (outH * eH !== inH || outW * eW !== inW) f32(backend, dx).fill(0);
    simd(backend).maxPoolGradTiled(
      heapOffset(backend, input), heapOffset(backend, output), heapOffset(backend, dy), heapOffset(backend, dx),
      batchSize, outH, outW, c * 4, eH, eW, inH, inW,
    );
    return dx;
  }
  const dxData = f32(backend, dx);
  const x = f32(backend, input);
  const y = f32(backend, output);
  const g = f32(backend, dy);
  dxData.fill(0);
  let o = 0;
  for (let n = 0; n < batchSize; n++) {
    const img = n * inH * inW * c;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sH - padT;
      const whLo = h0 >= 0 ? 0 : (((-h0 + dH - 1) / dH) | 0) * dH;
      const whHi = Math.min(eH, inH - h0);
      for (let ow = 0; ow < outW; ow++, o += c) {
        const w0 = ow * sW - padL;
        const wwLo = w0 >= 0 ? 0 : (((-w0 + dW - 1) / dW) | 0) * dW;
        const wwHi = Math.min(eW, inW - w0);
        for (let ch = 0; ch < c; ch++) {
          const max = y[o + ch];
          // A window whose max is -Infinity (or NaN) has no winner on the cpu backend either.
          if (!(max > Number.NEGATIVE_INFINITY)) continue;
          search: for (let wh = whLo; wh < whHi; wh += dH) {
            let at = img + ((h0 + wh) * inW + w0 + wwLo) * c + ch;
            for (let ww = wwLo; ww < wwHi; ww += dW, at += dW * c) {
              if (x[at] === max) {
                dxData[at] += g[o + ch];
                break search;
              }
            }
          }
        }
      }
    }
  }
  return dx;
}
