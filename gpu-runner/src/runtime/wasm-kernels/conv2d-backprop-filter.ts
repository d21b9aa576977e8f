/**
 * Conv2DBackpropFilter for the wasm backend: dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, ih, iw, ci] · dy[n,oh,ow,co].
 *
 * 3×3 stride-1 layers with SIMD-sized channel counts go to Winograd F(2×2, 3×3) (winograd.ts:
 * 1.7–2.7× this file's path on the paper's widths, bench/winograd-layers.ts); the rest as follows.
 *
 * A GEMM colsᵀ[K, M] · dy[M, Co] (K = kh·kw·ci, M = n·oh·ow) over the patch matrix, which the SIMD
 * module (simd-kernels.ts) builds from x — 3–5× faster than the JS loop it replaced (3.6 / 5.8 /
 * 3.0 → 0.7 / 1.8 / 0.7 ms on the tiny CNN's layers at batch 64, CPU time).
 *
 * When Co is a multiple of 8 the product is the SIMD module's own GEMM (gemmPanels) on the patch
 * matrix laid out in 4-row panels, built and consumed in chunks of whole output rows of about
 * OWN_CHUNK_BYTES so that each chunk is still in L2 when the GEMM reads it. XNNPACK's product —
 * the fallback for other Co — is faster per FLOP but, as a fully-connected operator, repacks its B
 * operand on every call, and B is dy, the big operand: in a training step (a new dy each time)
 * that packing cost more than the product itself on the first layer (tiny CNN, batch 32: 3.2 ms
 * with packing vs 1.3 ms without). Measured in training steps (CPU time), the filter gradient
 * went 11.7 → 8.7 ms per tiny-CNN step at batch 32; per layer at batch 64, 256 KB chunks beat
 * one unchunked product by 10–30%.
 *
 * On the XNNPACK path chunking is only a memory cap (XNN_CHUNK_BYTES; each chunk is one more
 * operator with its own packing, measured 1.2–2.2× slower than one product with 256 KB–4 MB
 * chunks): the patch matrix is K/Co times the size of dy, 150 MB for a 64-channel 3×3 conv on
 * 32×32 maps at batch 64. Either way the sum over chunks changes only the summation order.
 */
import * as tf from '@tensorflow/tfjs';
import { geometryFrom, validRange } from './im2col.ts';
import { type BackendWasm, type TensorInfo, dispose, f32, heapOffset, matMul, simd, view } from './wasm-backend.ts';
import { winogradFilterGrad, winogradGeometry } from './winograd.ts';

/** Patch-matrix chunk for the SIMD GEMM (L2-sized, see above). */
export const OWN_CHUNK_BYTES = 256 * 1024;
/** Largest patch matrix built at once for XNNPACK's product (a memory cap, see above). */
export const XNN_CHUNK_BYTES = 32 * 1024 * 1024;

export function conv2DBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}): TensorInfo {
  const { backend } = args;
  const { x, dy } = args.inputs as unknown as tf.Conv2DBackpropFilterInputs & { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat === 'NCHW') {
    throw new Error("wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only, like the wasm backend's Conv2D");
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const winograd = winogradGeometry(info);
  if (winograd !== null) return winogradFilterGrad(backend, x, dy, winograd);
  return filterGradient(backend, x, dy, info, filterShape);
}

/** Rows of dy per GEMM block: b's block (rows · Co floats) stays within ~64 KB, in L2 across panels. */
function blockRows(co: number): number {
  return Math.max(64, Math.floor(65536 / (4 * co)));
}

/** The chunked product; `chunkBytes` overrides the path's default so that tests can force many
 * small chunks. */
export function filterGradient(
  backend: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  filterShape: [number, number, number, number],
  chunkBytes?: number,
): TensorInfo {
  const g = geometryFrom(info);
  const { batch, inH, inW, inC, outH, outW, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft } = g;
  const k = kH * kW * inC;
  const co = info.outChannels;
  const panels = Math.ceil(k / 4);
  // The SIMD GEMM needs Co in multiples of 8 (its register tile); otherwise XNNPACK's.
  const own = co % 8 === 0;
  const rowsK = own ? panels * 4 : k;
  const totalRows = batch * outH;
  const budget = chunkBytes ?? (own ? OWN_CHUNK_BYTES : XNN_CHUNK_BYTES);
  const chunkRows = Math.max(1, Math.min(totalRows, Math.floor(budget / (4 * rowsK * outW))));
  const single = chunkRows === totalRows;
  const maxM = chunkRows * outW;
  const cols = backend.makeOutput([rowsK, maxM], 'float32');
  const kernels = simd(backend);
  const taps = [];
  for (let kh = 0; kh < kH; kh++) {
    for (let kw = 0; kw < kW; kw++) {
      const offW = kw * dilationW - padLeft;
      const [owLo, owHi] = validRange(outW, inW, strideW, offW);
      taps.push({ offH: kh * dilationH - padTop, offW, owLo, owHi });
    }
  }
  const acc = own ? backend.makeOutput([rowsK, co], 'float32') : null;
  if (acc !== null) f32(backend, acc).fill(0);
  let dw: TensorInfo | null = null;
  for (let r0 = 0; r0 < totalRows; r0 += chunkRows) {
    const r1 = Math.min(totalRows, r0 + chunkRows);
    const m = (r1 - r0) * outW;
    const xPtr = heapOffset(backend, x);
    const colsPtr = heapOffset(backend, cols);
    // Rows k ≥ K of the last panel are padding: zero, so they add nothing to the (discarded) rows.
    if (own && k % 4 !== 0) f32(backend, cols).fill(0, (panels - 1) * m * 4, panels * m * 4);
    taps.forEach(({ offH, offW, owLo, owHi }, t) => {
      kernels.im2colTap(
        xPtr + offW * inC * 4, colsPtr, t * inC, own ? 2 : 0, own ? 3 : 0, own ? m * 16 : m * 4, own ? 16 : 4, inC,
        r0, r1, outH, outW, inH, strideH, offH, owLo, owHi, strideW * inC * 4, inH * inW * inC * 4, inW * inC * 4,
      );
    });
    if (acc !== null) {
      const accPtr = heapOffset(backend, acc);
      const dyPtr = heapOffset(backend, dy) + r0 * outW * co * 4;
      const step = blockRows(co);
      for (let m0 = 0; m0 < m; m0 += step) {
        kernels.gemmPanels(colsPtr + m0 * 16, m * 16, dyPtr + m0 * co * 4, co * 4, accPtr, panels, co * 4, Math.min(step, m - m0));
      }
      continue;
    }
    // dy's rows of this chunk, in a fresh tensor every time: tfjs-wasm caches the XNNPACK operator
    // (with B already packed) by B's tensor id, so refilling one scratch tensor would silently
    // reuse the first chunk's dy.
    let dyChunk = dy;
    if (!single) {
      dyChunk = backend.makeOutput([m, co], 'float32');
      f32(backend, dyChunk).set(f32(backend, dy).subarray(r0 * outW * co, r1 * outW * co));
    }
    const part = matMul(backend, cols, dyChunk, k, m, co);
    if (!single) dispose(backend, dyChunk);
    if (dw === null) {
      dw = part;
    } else {
      const sum = f32(backend, dw);
      const add = f32(backend, part);
      for (let i = 0; i < sum.length; i++) sum[i] += add[i];
      dispose(backend, part);
    }
  }
  dispose(backend, cols);
  if (acc !== null) {
    // The first K rows of the accumulator are dW; the padding rows of the last panel are dropped.
    dw = backend.makeOutput(filterShape, 'float32');
    f32(backend, dw).set(f32(backend, acc).subarray(0, k * co));
    dispose(backend, acc);
  }
  return view(dw!, filterShape);
}
