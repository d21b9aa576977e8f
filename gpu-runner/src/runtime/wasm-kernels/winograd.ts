/**
 * 3×3, stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016), for the training kernels of the wasm backend.
 *
 * Why: the three convolution kernels were 90% of a training step on VGG-style nets, all three at
 * about the same rate per multiply-add (tfjs-wasm's XNNPACK forward convolution included), about
 * half of PyTorch's per core. F(2×2, 3×3) computes each 2×2 output tile from a 4×4 input tile
 * with 16 multiplies per (input, output) channel pair instead of 36 — 2.25× fewer — at the cost
 * of three cheap, add-only tile transforms:
 *
 *   forward      y   = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A          per tile, summed over input channels
 *   input grad   dx  = the same, on dy with the filter rotated 180° and its channels swapped
 *   filter grad  dg  = Gᵀ [ Σ_tiles (Bᵀ d B) ⊙ (A dy Aᵀ) ] G  (the adjoint of the forward formula)
 *
 * Per tile position ξ (16 of them) the channel sums are GEMMs: V[ξ] (tiles × C) · U[ξ] (C × K)
 * forward, V[ξ]ᵀ · dY[ξ] for the filter gradient (winograd-simd.ts). Tiles go in chunks of whole
 * tile rows sized so that a chunk's V and its product stay in L2.
 *
 * Accuracy: the transforms' coefficients are 0, ±1 and ±½, so the result differs from a direct
 * convolution only by float32 rounding of a different summation (tested against the cpu
 * backend's direct convolution: a few 1e-6 relative to the output scale). Where exactness against
 * the stock kernel matters — inference, whose outputs the fusion pins — the forward pass keeps
 * XNNPACK (see conv2d-forward.ts).
 */
import type { BackendWasm, TensorInfo } from './wasm-backend.ts';
import { dispose, f32, heapMemory, heapOffset } from './wasm-backend.ts';
import { relaxedSimdValidates } from '../../engine/wasm/relaxed-simd.ts';
import { assemble } from '../../engine/wasm/wasm-asm.ts';
import { moduleFor } from './simd-kernels.ts';
import { GEMM_MADD_FUNCTIONS, WINOGRAD_FUNCTIONS, type WinogradKernels } from './winograd-simd.ts';

/** The 4×4 Winograd domain's positions. */
const XI = 16;

/** A 3×3 stride-1 convolution's shapes: x [batch, inH, inW, inC] → y [batch, outH, outW, outC]. */
export interface WinogradGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  padTop: number;
  padLeft: number;
}

/** Whether F(2×2, 3×3) runs this convolution: 3×3, stride and dilation 1, input channels a
 * multiple of 4 and output channels a multiple of 8 (the SIMD lanes and the GEMM's register tile). */
export function winogradApplies(kH: number, kW: number, strides: [number, number], dilations: [number, number], inC: number, outC: number): boolean {
  return kH === 3 && kW === 3 && strides[0] === 1 && strides[1] === 1 && dilations[0] === 1 && dilations[1] === 1 && inC % 4 === 0 && outC % 8 === 0;
}

let maddValidates: boolean | undefined;

/**
 * The kernels bound to this backend's heap, with the GEMM's relaxed-SIMD multiply-add variant
 * where the runtime accepts it (engine/wasm/relaxed-simd.ts): one FMA instead of a multiply and an
 * add per product, ~1.4× the plain GEMM's rate here (7–10 → 12–15 GMAC/s on the VGG13-doub/8
 * layers). Its rounding depends on whether the CPU fuses, so a run is reproducible on one machine,
 * like any float training run, not bit for bit across machines.
 */
function kernels(backend: BackendWasm): WinogradKernels {
  const memory = heapMemory(backend);
  const plain = moduleFor<WinogradKernels>(WINOGRAD_FUNCTIONS, memory);
  maddValidates ??= relaxedSimdValidates(assemble(GEMM_MADD_FUNCTIONS));
  if (!maddValidates) return plain;
  const { gemmSplatMadd } = moduleFor<{ gemmSplatMadd: WinogradKernels['gemmSplat'] }>(GEMM_MADD_FUNCTIONS, memory);
  return { wgInput: plain.wgInput, wgOutput: plain.wgOutput, wgGradOut: plain.wgGradOut, gemmSplat: gemmSplatMadd };
}

/**
 * U[ξ][c][k] = (G g Gᵀ)[ξ] for g[kh][kw][c][k], G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
 * With `flip`, for the input gradient: U is built from g rotated 180° with c and k swapped, i.e.
 * U[ξ][k][c] from g[2 − kh][2 − kw][c][k], so that the same forward path computes dx from dy.
 */
export function filterTransform(g: Float32Array, inC: number, outC: number, u: Float32Array, flip: boolean): void {
  const ck = inC * outC;
  // Where tap (a, b) of the filter as read starts: rotated 180° when flipped.
  const plane = (a: number, b: number) => (flip ? (2 - a) * 3 + (2 - b) : a * 3 + b) * ck;
  const p00 = plane(0, 0), p01 = plane(0, 1), p02 = plane(0, 2);
  const p10 = plane(1, 0), p11 = plane(1, 1), p12 = plane(1, 2);
  const p20 = plane(2, 0), p21 = plane(2, 1), p22 = plane(2, 2);
  // Destination rows: c-major as given, k-major when flipped (U[ξ][k][c]).
  const rows = flip ? outC : inC;
  const cols = flip ? inC : outC;
  const ck4 = 4 * ck;
  let dst = 0;
  // Plain scalar code on purpose: this runs once per convolution call on up to 9·128·128 taps, and
  // small arrays or closures per element made it 10× slower.
  for (let r = 0; r < rows; r++) {
    for (let col = 0; col < cols; col++, dst++) {
      const e = flip ? col * outC + r : dst;
      const a0 = g[p00 + e], a1 = g[p01 + e], a2 = g[p02 + e];
      const b0 = g[p10 + e], b1 = g[p11 + e], b2 = g[p12 + e];
      const c0 = g[p20 + e], c1 = g[p21 + e], c2 = g[p22 + e];
      // Rows of G·g: [a], ½(a + b + c), ½(a − b + c), [c]; each then times Gᵀ along its 3 columns.
      const s0 = 0.5 * (a0 + b0 + c0), s1 = 0.5 * (a1 + b1 + c1), s2 = 0.5 * (a2 + b2 + c2);
      const d0 = 0.5 * (a0 - b0 + c0), d1 = 0.5 * (a1 - b1 + c1), d2 = 0.5 * (a2 - b2 + c2);
      let o = dst;
      u[o] = a0; u[o + ck] = 0.5 * (a0 + a1 + a2); u[o + 2 * ck] = 0.5 * (a0 - a1 + a2); u[o + 3 * ck] = a2;
      o += ck4;
      u[o] = s0; u[o + ck] = 0.5 * (s0 + s1 + s2); u[o + 2 * ck] = 0.5 * (s0 - s1 + s2); u[o + 3 * ck] = s2;
      o += ck4;
      u[o] = d0; u[o + ck] = 0.5 * (d0 + d1 + d2); u[o + 2 * ck] = 0.5 * (d0 - d1 + d2); u[o + 3 * ck] = d2;
      o += ck4;
      u[o] = c0; u[o + ck] = 0.5 * (c0 + c1 + c2); u[o + 2 * ck] = 0.5 * (c0 - c1 + c2); u[o + 3 * ck] = c2;
    }
  }
}

/** The three rows of Gᵀ applied to four values (G's columns): x0 + ½(x1 + x2), ½(x1 − x2), ½(x1 + x2) + x3. */
const top = (x0: number, x1: number, x2: number) => x0 + 0.5 * (x1 + x2);
const mid = (x1: number, x2: number) => 0.5 * (x1 - x2);
const bot = (x1: number, x2: number, x3: number) => 0.5 * (x1 + x2) + x3;

/** dg[kh][kw][c][k] = (Gᵀ m G)[kh][kw] from m[ξ][c][k], the adjoint of filterTransform. */
export function filterGradientTransform(m: Float32Array, ck: number, dg: Float32Array): void {
  for (let e = 0; e < ck; e++) {
    // Column j of Gᵀ·m (three values a = 0, 1, 2) from m's column j (four rows), then · G along j.
    const m00 = m[e], m01 = m[ck + e], m02 = m[2 * ck + e], m03 = m[3 * ck + e];
    const m10 = m[4 * ck + e], m11 = m[5 * ck + e], m12 = m[6 * ck + e], m13 = m[7 * ck + e];
    const m20 = m[8 * ck + e], m21 = m[9 * ck + e], m22 = m[10 * ck + e], m23 = m[11 * ck + e];
    const m30 = m[12 * ck + e], m31 = m[13 * ck + e], m32 = m[14 * ck + e], m33 = m[15 * ck + e];
    const q00 = top(m00, m10, m20), q01 = top(m01, m11, m21), q02 = top(m02, m12, m22), q03 = top(m03, m13, m23);
    const q10 = mid(m10, m20), q11 = mid(m11, m21), q12 = mid(m12, m22), q13 = mid(m13, m23);
    const q20 = bot(m10, m20, m30), q21 = bot(m11, m21, m31), q22 = bot(m12, m22, m32), q23 = bot(m13, m23, m33);
    dg[e] = top(q00, q01, q02); dg[ck + e] = mid(q01, q02); dg[2 * ck + e] = bot(q01, q02, q03);
    dg[3 * ck + e] = top(q10, q11, q12); dg[4 * ck + e] = mid(q11, q12); dg[5 * ck + e] = bot(q11, q12, q13);
    dg[6 * ck + e] = top(q20, q21, q22); dg[7 * ck + e] = mid(q21, q22); dg[8 * ck + e] = bot(q21, q22, q23);
  }
}

/**
 * Bytes between consecutive ξ matrices of `floats` floats each: one cache line more than their
 * size. The 16 matrices are written (or read) together, one row of each per tile; at sizes that are
 * multiples of 4 KB their rows would all fall into the same L1 set and evict each other (measured:
 * the input transform of a 16×16×32 layer 2.4–3 ms before this padding).
 */
function matrixStride(floats: number): number {
  return floats * 4 + 64;
}

/** Tiles per chunk: V (C per tile) and the product (K per tile), 16 matrices each, within ~512 KB. */
function defaultChunkTiles(inC: number, outC: number): number {
  return Math.max(4, Math.floor((512 * 1024) / (XI * 4 * (inC + outC))));
}

interface Plan {
  tH: number;
  tW: number;
  /** Tile rows (n, th) in all, and per chunk. */
  rows: number;
  rowsPerChunk: number;
  /** Rows of a chunk's matrices: its tiles rounded up to the GEMM's 4. */
  chunkRows4: number;
  /** Scratch width in pixels: the tile row's 2·tW + 2 input columns. */
  wp: number;
}

function plan(g: WinogradGeometry, chunkTiles: number | undefined): Plan {
  const tH = Math.ceil(g.outH / 2);
  const tW = Math.ceil(g.outW / 2);
  const rows = g.batch * tH;
  const rowsPerChunk = Math.max(1, Math.min(rows, Math.floor((chunkTiles ?? defaultChunkTiles(g.inC, g.outC)) / tW)));
  return { tH, tW, rows, rowsPerChunk, chunkRows4: Math.ceil((rowsPerChunk * tW) / 4) * 4, wp: 2 * tW + 2 };
}

/** Copies rows/columns [0, h) × [0, w) of every image of src [n, sh, sw, c] into dst [n, dh, dw, c]. */
function copyImages(src: Float32Array, dst: Float32Array, n: number, sh: number, sw: number, dh: number, dw: number, c: number, h: number, w: number): void {
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < h; r++) {
      const s = ((i * sh + r) * sw) * c;
      dst.set(src.subarray(s, s + w * c), ((i * dh + r) * dw) * c);
    }
  }
}

/**
 * y = conv(x, filter) for a 3×3 stride-1 convolution with the given padding; `flip` convolves with
 * the filter rotated and channel-swapped (the input gradient: x is then dy, filter the forward
 * filter [3, 3, outC, inC]). Returns a new [batch, outH, outW, outC] tensor.
 */
export function winogradConv(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  g: WinogradGeometry,
  flip: boolean,
  chunkTiles?: number,
): TensorInfo {
  const { batch, inH, inW, inC, outH, outW, outC, padTop, padLeft } = g;
  const p = plan(g, chunkTiles);
  const { tH, tW, rows, rowsPerChunk, chunkRows4, wp } = p;
  const padded = outH % 2 !== 0 || outW % 2 !== 0;
  const outHp = 2 * tH;
  const outWp = 2 * tW;

  const u = backend.makeOutput([XI, inC, outC], 'float32');
  filterTransform(f32(backend, filter), flip ? outC : inC, flip ? inC : outC, f32(backend, u), flip);
  const vStride = matrixStride(chunkRows4 * inC);
  const mStride = matrixStride(chunkRows4 * outC);
  const v = backend.makeOutput([(XI * vStride) / 4], 'float32');
  const m = backend.makeOutput([(XI * mStride) / 4], 'float32');
  const scratch = backend.makeOutput([4, wp, inC], 'float32');
  f32(backend, scratch).fill(0);
  const y = backend.makeOutput([batch, outH, outW, outC], 'float32');
  const yp = padded ? backend.makeOutput([batch, outHp, outWp, outC], 'float32') : y;

  const k = kernels(backend);
  const c4 = inC * 4;
  const k4 = outC * 4;
  const [xPtr, uPtr, vPtr, mPtr, sPtr, yPtr] = [x, u, v, m, scratch, yp].map((t) => heapOffset(backend, t));
  for (let q0 = 0; q0 < rows; q0 += rowsPerChunk) {
    const q1 = Math.min(rows, q0 + rowsPerChunk);
    for (let q = q0; q < q1; q++) {
      const n = Math.floor(q / tH);
      const th = q - n * tH;
      k.wgInput(xPtr + n * inH * inW * c4, 2 * th - padTop, inH, inW, c4, padLeft, wp, tW, sPtr, vPtr, vStride, (q - q0) * tW);
    }
    const tiles4 = Math.ceil(((q1 - q0) * tW) / 4) * 4;
    for (let xi = 0; xi < XI; xi++) {
      k.gemmSplat(vPtr + xi * vStride, c4, 4, uPtr + xi * inC * k4, k4, mPtr + xi * mStride, k4, tiles4, k4, inC, 0);
    }
    for (let q = q0; q < q1; q++) {
      const n = Math.floor(q / tH);
      const th = q - n * tH;
      k.wgOutput(mPtr, mStride, (q - q0) * tW, yPtr + (n * outHp + 2 * th) * outWp * k4, outWp * k4, tW, k4);
    }
  }
  for (const t of [u, v, m, scratch]) dispose(backend, t);
  if (padded) {
    copyImages(f32(backend, yp), f32(backend, y), batch, outHp, outWp, outH, outW, outC, outH, outW);
    dispose(backend, yp);
  }
  return y;
}

/**
 * dW[3, 3, inC, outC] of a 3×3 stride-1 convolution from its input x and output gradient dy:
 * the Winograd-domain products Σ_tiles V[ξ]ᵀ·dY[ξ], accumulated chunk by chunk, then Gᵀ·G.
 */
export function winogradFilterGrad(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: WinogradGeometry, chunkTiles?: number): TensorInfo {
  const { batch, inH, inW, inC, outH, outW, outC, padTop, padLeft } = g;
  const p = plan(g, chunkTiles);
  const { tH, tW, rows, rowsPerChunk, chunkRows4, wp } = p;
  const padded = outH % 2 !== 0 || outW % 2 !== 0;
  const outHp = 2 * tH;
  const outWp = 2 * tW;

  const acc = backend.makeOutput([XI, inC, outC], 'float32');
  f32(backend, acc).fill(0);
  const vStride = matrixStride(chunkRows4 * inC);
  const dStride = matrixStride(chunkRows4 * outC);
  const v = backend.makeOutput([(XI * vStride) / 4], 'float32');
  const d = backend.makeOutput([(XI * dStride) / 4], 'float32');
  const scratch = backend.makeOutput([4, wp, inC], 'float32');
  f32(backend, scratch).fill(0);
  // An odd output size: dy zero-padded to whole tiles (the missing outputs have no gradient).
  const dyp = padded ? backend.makeOutput([batch, outHp, outWp, outC], 'float32') : dy;
  if (padded) {
    const dst = f32(backend, dyp);
    dst.fill(0);
    copyImages(f32(backend, dy), dst, batch, outH, outW, outHp, outWp, outC, outH, outW);
  }

  const k = kernels(backend);
  const c4 = inC * 4;
  const k4 = outC * 4;
  const [xPtr, accPtr, vPtr, dPtr, sPtr, dyPtr] = [x, acc, v, d, scratch, dyp].map((t) => heapOffset(backend, t));
  for (let q0 = 0; q0 < rows; q0 += rowsPerChunk) {
    const q1 = Math.min(rows, q0 + rowsPerChunk);
    for (let q = q0; q < q1; q++) {
      const n = Math.floor(q / tH);
      const th = q - n * tH;
      const t0 = (q - q0) * tW;
      k.wgInput(xPtr + n * inH * inW * c4, 2 * th - padTop, inH, inW, c4, padLeft, wp, tW, sPtr, vPtr, vStride, t0);
      k.wgGradOut(dyPtr + (n * outHp + 2 * th) * outWp * k4, outWp * k4, tW, k4, dPtr, dStride, t0);
    }
    const tiles = (q1 - q0) * tW;
    for (let xi = 0; xi < XI; xi++) {
      k.gemmSplat(vPtr + xi * vStride, 4, c4, dPtr + xi * dStride, k4, accPtr + xi * inC * k4, k4, inC, k4, tiles, 1);
    }
  }
  for (const t of [v, d, scratch]) dispose(backend, t);
  if (padded) dispose(backend, dyp);
  const dw = backend.makeOutput([3, 3, inC, outC], 'float32');
  filterGradientTransform(f32(backend, acc), inC * outC, f32(backend, dw));
  dispose(backend, acc);
  return dw;
}
