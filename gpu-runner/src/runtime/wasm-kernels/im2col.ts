/**
 * Patch extraction for NHWC convolutions, written straight over typed arrays.
 *
 * The layout is the *transposed* im2col, `cols[k][m]` with k = (kh, kw, ci) and m = (n, oh, ow):
 * with it the filter gradient is the plain product cols · dy[M, Co], which lands directly in the
 * filter's own [kh, kw, ci, co] layout and keeps XNNPACK on its fast untransposed path.
 */
import * as tf from '@tensorflow/tfjs';

export interface PatchGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padLeft: number;
}

export function geometryFrom(info: tf.backend_util.Conv2DInfo): PatchGeometry {
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    dilationH: info.dilationHeight,
    dilationW: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** Range [lo, hi) of output columns whose tap at kernel column offset `off` lands inside the input. */
export function validRange(outLen: number, inLen: number, stride: number, off: number): [number, number] {
  // Output o reads input o*stride + off; it is valid for 0 <= o*stride + off < inLen.
  const lo = off >= 0 ? 0 : Math.ceil(-off / stride);
  const hi = Math.min(outLen, Math.max(0, Math.ceil((inLen - off) / stride)));
  return [Math.min(lo, hi), hi];
}

/**
 * Fills `cols` (length kH·kW·inC · batch·outH·outW) with the transposed patch matrix of x (NHWC).
 * Out-of-image taps (padding) are written as zeros, so `cols` need not be cleared first.
 */
export function im2colT(x: Float32Array, g: PatchGeometry, cols: Float32Array): void {
  const { batch, inH, inW, inC, outH, outW, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft } = g;
  const m = batch * outH * outW;
  const rowStrideX = inW * inC;
  const imgStrideX = inH * rowStrideX;
  const sx = strideW * inC;
  for (let kh = 0; kh < kH; kh++) {
    const offH = kh * dilationH - padTop;
    for (let kw = 0; kw < kW; kw++) {
      const offW = kw * dilationW - padLeft;
      const [owLo, owHi] = validRange(outW, inW, strideW, offW);
      for (let ci = 0; ci < inC; ci++) {
        let o = ((kh * kW + kw) * inC + ci) * m;
        for (let n = 0; n < batch; n++) {
          const imgBase = n * imgStrideX + ci;
          for (let oh = 0; oh < outH; oh++) {
            const ih = oh * strideH + offH;
            if (ih < 0 || ih >= inH) {
              cols.fill(0, o, o + outW);
              o += outW;
              continue;
            }
            for (let ow = 0; ow < owLo; ow++) cols[o++] = 0;
            // Input index of output column ow: base + (ow*strideW + offW)*inC.
            let src = imgBase + ih * rowStrideX + (owLo * strideW + offW) * inC;
            for (let ow = owLo; ow < owHi; ow++) {
              cols[o++] = x[src];
              src += sx;
            }
            for (let ow = owHi; ow < outW; ow++) cols[o++] = 0;
          }
        }
      }
    }
  }
}
