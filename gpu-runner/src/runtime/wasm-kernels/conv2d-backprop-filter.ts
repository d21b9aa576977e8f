/**
 * Conv2DBackpropFilter for the wasm backend: dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, ih, iw, ci] · dy[n,oh,ow,co].
 *
 * A GEMM colsT[K, M] · dy[M, Co] (K = kh·kw·ci, M = n·oh·ow; colsT is the transposed patch matrix,
 * so the product lands in the filter's own [kh, kw, ci, co] layout on XNNPACK's fast untransposed
 * path). The patch matrix is built by the SIMD module (simd-kernels.ts, ~2–4× the JS loop it
 * replaces: 3.6 / 5.8 / 3.0 → 0.7 / 1.8 / 0.7 ms on the tiny CNN's three layers at batch 64, CPU
 * time). colsT is K/Co times the size of dy — 150 MB for a 64-channel 3×3 conv on 32×32 maps at
 * batch 64 — so layers whose patch matrix would exceed CHUNK_BYTES are done in chunks of whole
 * output rows whose products are summed (only the summation order changes). Chunking is a memory
 * cap, not a speed-up: each chunk is one more XNNPACK operator with its own weight packing, and
 * per layer (CPU time, best of 15) 256 KB–4 MB chunks measured 1.2–2.2× slower than one product
 * on the tiny CNN and ResNet shapes, none of which reaches the cap.
 */
import * as tf from '@tensorflow/tfjs';
import { geometryFrom, validRange } from './im2col.ts';
import { type BackendWasm, type TensorInfo, dispose, f32, heapOffset, matMul, simd, view } from './wasm-backend.ts';

/** Largest patch matrix built at once (see above). */
export const CHUNK_BYTES = 32 * 1024 * 1024;

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
  return filterGradient(backend, x, dy, info, filterShape, CHUNK_BYTES);
}

/** The chunked product; `chunkBytes` is a parameter so that tests can force many small chunks. */
export function filterGradient(
  backend: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  filterShape: [number, number, number, number],
  chunkBytes: number,
): TensorInfo {
  const g = geometryFrom(info);
  const { batch, inH, inW, inC, outH, outW, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft } = g;
  const k = kH * kW * inC;
  const co = info.outChannels;
  const totalRows = batch * outH;
  const chunkRows = Math.max(1, Math.min(totalRows, Math.floor(chunkBytes / (4 * k * outW))));
  const single = chunkRows === totalRows;
  const maxM = chunkRows * outW;
  const cols = backend.makeOutput([k, maxM], 'float32');
  const kernels = simd(backend);
  const taps = [];
  for (let kh = 0; kh < kH; kh++) {
    for (let kw = 0; kw < kW; kw++) {
      const offW = kw * dilationW - padLeft;
      const [owLo, owHi] = validRange(outW, inW, strideW, offW);
      taps.push({ offH: kh * dilationH - padTop, offW, owLo, owHi });
    }
  }
  let dw: TensorInfo | null = null;
  for (let r0 = 0; r0 < totalRows; r0 += chunkRows) {
    const r1 = Math.min(totalRows, r0 + chunkRows);
    const m = (r1 - r0) * outW;
    const xPtr = heapOffset(backend, x);
    const colsPtr = heapOffset(backend, cols);
    taps.forEach(({ offH, offW, owLo, owHi }, t) => {
      kernels.im2colTap(
        xPtr + offW * inC * 4, colsPtr + t * inC * m * 4, m * 4, inC, r0, r1, outH, outW,
        inH, strideH, offH, owLo, owHi, strideW * inC * 4, inH * inW * inC * 4, inW * inC * 4,
      );
    });
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
      const acc = f32(backend, dw);
      const add = f32(backend, part);
      for (let i = 0; i < acc.length; i++) acc[i] += add[i];
      dispose(backend, part);
    }
  }
  dispose(backend, cols);
  return view(dw!, filterShape);
}
