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
import type * as tf from '@tensorflow/tfjs';
import { type PatchGeometry, geometryFrom } from './im2col.ts';
import type { BackendWasm, TensorInfo } from './wasm-backend.ts';
import { dispose, f32, heapMemory, heapOffset, simd } from './wasm-backend.ts';
import { relaxedSimdValidates } from '../../engine/wasm/relaxed-simd.ts';
import { assemble } from '../../engine/wasm/wasm-asm.ts';
import { moduleFor } from './simd-kernels.ts';
import { GEMM_MADD_FUNCTIONS, WINOGRAD_FUNCTIONS, type WinogradKernels } from './winograd-simd.ts';

/** The 4×4 Winograd domain's positions. */
const XI = 16;

/** A 3×3 stride-1 convolution's shapes: x [batch, inH, inW, inC] → y [batch, outH, outW, outC]. */
export type WinogradGeometry = Pick<PatchGeometry, 'batch' | 'inH' | 'inW' | 'inC' | 'outH' | 'outW' | 'padTop' | 'padLeft'> & { outC: number };

/** Whether F(2×2, 3×3) runs this convolution: 3×3, stride and dilation 1, input channels a
 * multiple of 4 and output channels a multiple of 8 (the SIMD lanes and the GEMM's register tile). */
export function winogradApplies(kH: number, kW: number, strides: [number, number], dilations: [number, number], inC: number, outC: number): boolean {
  return kH === 3 && kW === 3 && strides[0] === 1 && strides[1] === 1 && dilations[0] === 1 && dilations[1] === 1 && inC % 4 === 0 && outC % 8 === 0;
}

/** The geometry of the convolution tfjs describes (NHWC), or null where Winograd does not apply. */
export function winogradGeometry(info: tf.backend_util.Conv2DInfo): WinogradGeometry | null {
  const g = geometryFrom(info);
  if (!winogradApplies(g.kH, g.kW, [g.strideH, g.strideW], [g.dilationH, g.dilationW], g.inC, info.outChannels)) return null;
  return { ...g, outC: info.outChannels };
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
  return { ...plain, gemmSplat: gemmSplatMadd };
}

/** σ: the Winograd-domain position of the 180°-rotated filter's value. G·R = P·G for R the 3×3
 * reversal and P the swap of rows 0 and 3 of G, so (G·rot(g)·Gᵀ)[i][j] = (G·g·Gᵀ)[σ(i)][σ(j)]. */
const ROTATED = Array.from({ length: XI }, (_, xi) => {
  const swap = (i: number) => (i === 0 ? 3 : i === 3 ? 0 : i);
  return 4 * swap(xi >> 2) + swap(xi & 3);
});

/**
 * U[ξ] (inC × outC each, `uStride` bytes apart) for the convolution's filter. With `flip` (the
 * input gradient), `filter` is the forward filter [3, 3, outC, inC] and U is its rotated,
 * channel-swapped transform: the forward transform with ξ permuted (ROTATED), each matrix
 * transposed.
 */
function transformFilter(backend: BackendWasm, k: WinogradKernels, filter: TensorInfo, inC: number, outC: number, uStride: number, flip: boolean): TensorInfo {
  const u = backend.makeOutput([(XI * uStride) / 4], 'float32');
  const ck4 = inC * outC * 4;
  if (!flip) {
    k.wgFilter(heapOffset(backend, filter), heapOffset(backend, u), ck4, uStride);
    return u;
  }
  const forward = backend.makeOutput([(XI * uStride) / 4], 'float32');
  k.wgFilter(heapOffset(backend, filter), heapOffset(backend, forward), ck4, uStride);
  const [src, dst] = [heapOffset(backend, forward), heapOffset(backend, u)];
  const transpose = simd(backend).transpose2d;
  for (let xi = 0; xi < XI; xi++) transpose(src + ROTATED[xi] * uStride, dst + xi * uStride, outC, inC);
  dispose(backend, forward);
  return u;
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

/**
 * Tiles per chunk: V (inC per tile) and the product (outC per tile), 16 matrices each, within
 * ~512 KB so that they stay in L2 — but at least 64 tiles, because every chunk streams all of U
 * (16·inC·outC floats) through the GEMM once: for wide layers the L2 rule alone gives a handful
 * of tiles per chunk and U's traffic dominates (512 → 512 channels on 4×4 maps, batch 64: 8 tiles
 * per chunk 545 ms, as slow as XNNPACK's direct convolution; 64 tiles 209 ms).
 */
function defaultChunkTiles(inC: number, outC: number): number {
  return Math.max(64, Math.floor((512 * 1024) / (XI * 4 * (inC + outC))));
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

/** One tile row (image n, tile row th) of a chunk; its tiles are rows t0… of the chunk's matrices. */
interface TileRow {
  n: number;
  th: number;
  t0: number;
}

/** A chunk's matrices on the heap: V (inC per tile) and the output side's O (outC per tile). */
interface ChunkBuffers {
  v: number;
  vStride: number;
  o: number;
  oStride: number;
}

/**
 * Walks the convolution's tiles in chunks of whole tile rows: per chunk, the input transform of
 * `x` into V row by row (`inputRow` then adds the caller's own per-row work), `product(tiles)` on
 * the chunk, then `outputRow` per row. V, O and the scratch rows are this call's, reused across
 * chunks.
 */
function walkTiles(
  backend: BackendWasm,
  k: WinogradKernels,
  g: WinogradGeometry,
  p: Plan,
  x: TensorInfo,
  visit: { inputRow?: (r: TileRow, b: ChunkBuffers) => void; product: (tiles: number, b: ChunkBuffers) => void; outputRow?: (r: TileRow, b: ChunkBuffers) => void },
): void {
  const { inH, inW, inC, outC, padTop, padLeft } = g;
  const { tH, tW, rows, rowsPerChunk, chunkRows4, wp } = p;
  const vStride = matrixStride(chunkRows4 * inC);
  const oStride = matrixStride(chunkRows4 * outC);
  const v = backend.makeOutput([(XI * vStride) / 4], 'float32');
  const o = backend.makeOutput([(XI * oStride) / 4], 'float32');
  const scratch = backend.makeOutput([4, wp, inC], 'float32');
  f32(backend, scratch).fill(0);
  const c4 = inC * 4;
  const [xPtr, sPtr] = [heapOffset(backend, x), heapOffset(backend, scratch)];
  const b: ChunkBuffers = { v: heapOffset(backend, v), vStride, o: heapOffset(backend, o), oStride };
  const rowAt = (q: number, q0: number): TileRow => {
    const n = Math.floor(q / tH);
    return { n, th: q - n * tH, t0: (q - q0) * tW };
  };
  for (let q0 = 0; q0 < rows; q0 += rowsPerChunk) {
    const q1 = Math.min(rows, q0 + rowsPerChunk);
    for (let q = q0; q < q1; q++) {
      const r = rowAt(q, q0);
      k.wgInput(xPtr + r.n * inH * inW * c4, 2 * r.th - padTop, inH, inW, c4, padLeft, wp, tW, sPtr, b.v, vStride, r.t0);
      visit.inputRow?.(r, b);
    }
    visit.product((q1 - q0) * tW, b);
    if (visit.outputRow !== undefined) for (let q = q0; q < q1; q++) visit.outputRow(rowAt(q, q0), b);
  }
  for (const t of [v, o, scratch]) dispose(backend, t);
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
  const { batch, inC, outH, outW, outC } = g;
  const p = plan(g, chunkTiles);
  // An odd output size: the tiles' outputs go to a buffer of whole tiles, cropped at the end.
  const padded = outH % 2 !== 0 || outW % 2 !== 0;
  const [outHp, outWp] = [2 * p.tH, 2 * p.tW];
  const k = kernels(backend);
  const uStride = matrixStride(inC * outC);
  const u = transformFilter(backend, k, filter, inC, outC, uStride, flip);
  const y = backend.makeOutput([batch, outH, outW, outC], 'float32');
  const yp = padded ? backend.makeOutput([batch, outHp, outWp, outC], 'float32') : y;
  const [c4, k4] = [inC * 4, outC * 4];
  const [uPtr, yPtr] = [heapOffset(backend, u), heapOffset(backend, yp)];
  walkTiles(backend, k, g, p, x, {
    // M[ξ] = V[ξ]·U[ξ], the chunk's tiles rounded up to the GEMM's 4 (the extra rows are not read).
    product: (tiles, b) => {
      const tiles4 = Math.ceil(tiles / 4) * 4;
      for (let xi = 0; xi < XI; xi++) k.gemmSplat(b.v + xi * b.vStride, c4, 4, uPtr + xi * uStride, k4, b.o + xi * b.oStride, k4, tiles4, k4, inC, 0);
    },
    outputRow: ({ n, th, t0 }, b) => k.wgOutput(b.o, b.oStride, t0, yPtr + (n * outHp + 2 * th) * outWp * k4, outWp * k4, p.tW, k4),
  });
  dispose(backend, u);
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
  const { batch, inC, outH, outW, outC } = g;
  const p = plan(g, chunkTiles);
  const padded = outH % 2 !== 0 || outW % 2 !== 0;
  const [outHp, outWp] = [2 * p.tH, 2 * p.tW];
  const k = kernels(backend);
  const accStride = matrixStride(inC * outC);
  const acc = backend.makeOutput([(XI * accStride) / 4], 'float32');
  f32(backend, acc).fill(0);
  // An odd output size: dy zero-padded to whole tiles (the missing outputs have no gradient).
  const dyp = padded ? backend.makeOutput([batch, outHp, outWp, outC], 'float32') : dy;
  if (padded) {
    const dst = f32(backend, dyp);
    dst.fill(0);
    copyImages(f32(backend, dy), dst, batch, outH, outW, outHp, outWp, outC, outH, outW);
  }
  const [c4, k4] = [inC * 4, outC * 4];
  const [accPtr, dyPtr] = [heapOffset(backend, acc), heapOffset(backend, dyp)];
  walkTiles(backend, k, g, p, x, {
    inputRow: ({ n, th, t0 }, b) => k.wgGradOut(dyPtr + (n * outHp + 2 * th) * outWp * k4, outWp * k4, p.tW, k4, b.o, b.oStride, t0),
    product: (tiles, b) => {
      for (let xi = 0; xi < XI; xi++) k.gemmSplat(b.v + xi * b.vStride, 4, c4, b.o + xi * b.oStride, k4, accPtr + xi * accStride, k4, inC, k4, tiles, 1);
    },
  });
  if (padded) dispose(backend, dyp);
  const dw = backend.makeOutput([3, 3, inC, outC], 'float32');
  k.wgFilterGrad(heapOffset(backend, acc), accStride, heapOffset(backend, dw), inC * outC * 4);
  dispose(backend, acc);
  return dw;
}
