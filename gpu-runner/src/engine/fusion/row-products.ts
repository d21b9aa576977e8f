/**
 * Dot products between the rows of two row-major matrices, P = A·Bᵀ, with
 * float64 accumulation. This one kernel carries the two heavy products of
 * CNN fusion: the t×t Gram matrices of CKA (A = B = [t, C·H·W]) and the
 * a·b term of the efficient ground metric between channels ([C, H·W·t]).
 *
 * Why hand-written JavaScript and not a tfjs matMul: on the wasm backend
 * (the embedded default) a 200×65536 Gram took 0.76 s here against 0.91 s for
 * tfjs's float32 matMul, whose float32 accumulation over 65536 terms was also
 * off by 1.6e-5 relative (measured on this repository's 2-core bench
 * machine). The kernel computes a 4×4 block of P per pass, so every loaded
 * value feeds four multiply-adds, and walks the shared dimension in chunks
 * that keep the eight rows of a block in cache.
 */

import { CHUNK, type RowLayout, rowProductsWasm, wasmRowKernel } from './row-products-wasm.ts';

export type { RowLayout };

export interface RowMatrix {
  data: ArrayLike<number>;
  rows: number;
  /** Length of each row. */
  cols: number;
  /**
   * Where the values sit when not row-major (row-products-wasm.ts): lets
   * the channel rows of a recorded tap be read in place instead of copied.
   */
  layout?: RowLayout;
}

/**
 * P[i·b.rows + j] = Σ_c a[i, c]·b[j, c]. With `symmetric` (a and b are the
 * same matrix) only the upper triangle is computed and then mirrored.
 *
 * Runs the WebAssembly SIMD version (row-products-wasm.ts), which gives the
 * same bits as rowProductsJs below, where WebAssembly is available.
 */
export function rowProducts(a: RowMatrix, b: RowMatrix, symmetric = false): Float64Array {
  checkRowMatrices(a, b);
  const kernel = wasmRowKernel();
  if (!kernel) return rowProductsJs(a, b, symmetric);
  return rowProductsWasm(kernel, a, symmetric ? a : b, symmetric).products;
}

/**
 * A·Bᵀ together with the rows' squared norms ‖a_i‖², ‖b_j‖² (each summed
 * in column order, as `s += x * x`), which the wasm kernel reads off the
 * values it stages anyway: the efficient ground metric needs all three.
 */
export function rowProductsWithNorms(a: RowMatrix, b: RowMatrix): { products: Float64Array; normsA: Float64Array; normsB: Float64Array } {
  checkRowMatrices(a, b);
  const kernel = wasmRowKernel();
  if (!kernel) return { products: rowProductsJs(a, b), normsA: squaredNormsJs(a), normsB: squaredNormsJs(b) };
  // A matrix of zeros (the conv1 taps of the zero blocks inserted into a
  // ResNet B′, spec §6.1: a quarter of the ResNet34←ResNet18 ground-metric
  // work) has products +0 with any finite rows: each x·(±0) is ±0 and a sum
  // from +0 of zeros stays +0. So only the other side's norms are computed,
  // and the products are kept when those norms are finite (a NaN or ±∞ row
  // would have made its products NaN).
  for (const [zero, other] of [[b, a], [a, b]] as const) {
    if (!allZero(zero.data)) continue;
    const { normsA: normsOther } = rowProductsWasm(kernel, other, other, false, true, false);
    if (!normsOther!.every(Number.isFinite)) break;
    const normsZero = new Float64Array(zero.rows);
    return {
      products: new Float64Array(a.rows * b.rows),
      normsA: zero === a ? normsZero : normsOther!,
      normsB: zero === b ? normsZero : normsOther!,
    };
  }
  const r = rowProductsWasm(kernel, a, b, false, true);
  return { products: r.products, normsA: r.normsA!, normsB: r.normsB! };
}

/** Whether every value is ±0 (stops at the first that is not, so a non-zero matrix costs next to nothing). */
function allZero(data: ArrayLike<number>): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}

/** ‖row‖² of every row, summed in column order. */
export function squaredNormsJs(x: RowMatrix): Float64Array {
  const { data, rows, cols } = rowMajor(x);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let f = 0; f < cols; f++) s += data[i * cols + f] * data[i * cols + f];
    out[i] = s;
  }
  return out;
}

/** The matrix as plain row-major rows (a copy when it has a layout, of the same element type). */
export function rowMajor(x: RowMatrix): RowMatrix {
  const l = x.layout;
  if (!l) return x;
  const out = x.data instanceof Float32Array ? new Float32Array(x.rows * x.cols) : new Float64Array(x.rows * x.cols);
  const src = x.data;
  for (let r = 0; r < x.rows; r++) {
    for (let c = 0; c < x.cols; c++) {
      const q = Math.floor(c / l.run);
      out[r * x.cols + c] = src[r * l.rowStride + q * l.runStride + (c - q * l.run)];
    }
  }
  return { data: out, rows: x.rows, cols: x.cols };
}

function checkRowMatrices(a: RowMatrix, b: RowMatrix): void {
  if (b.cols !== a.cols) throw new RangeError(`row products need rows of equal length, got ${a.cols} and ${b.cols}`);
  for (const [x, what] of [[a, 'first'], [b, 'second']] as const) {
    const l = x.layout;
    const last = x.rows === 0 || x.cols === 0 ? -1 : l ? (x.rows - 1) * l.rowStride + Math.floor((x.cols - 1) / l.run) * l.runStride + ((x.cols - 1) % l.run) : x.rows * x.cols - 1;
    if (x.data.length <= last) throw new RangeError(`row products: the ${what} matrix holds ${x.data.length} values, not ${x.rows}×${x.cols}`);
  }
}

/** The reference JavaScript kernel (and the fallback without WebAssembly). */
export function rowProductsJs(a: RowMatrix, b: RowMatrix, symmetric = false): Float64Array {
  checkRowMatrices(a, b);
  if (a.layout || b.layout) return rowProductsJs(rowMajor(a), rowMajor(b), symmetric);
  const p = a.cols;
  const n = a.rows;
  const m = b.rows;
  const P = new Float64Array(n * m);
  const x = a.data;
  const y = b.data;
  for (let c0 = 0; c0 < p; c0 += CHUNK) {
    const c1 = Math.min(p, c0 + CHUNK);
    for (let i = 0; i < n; i += 4) {
      const iRows = Math.min(4, n - i);
      // With symmetry, blocks left of the diagonal are skipped (i is a multiple of 4).
      for (let j = symmetric ? i : 0; j < m; j += 4) {
        const jRows = Math.min(4, m - j);
        if (iRows === 4 && jRows === 4) block4x4(x, y, p, i, j, c0, c1, P, m);
        else blockEdge(x, y, p, i, iRows, j, jRows, c0, c1, P, m);
      }
    }
  }
  if (symmetric) {
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) P[i * m + j] = P[j * m + i];
  }
  return P;
}

function block4x4(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  p: number,
  i: number,
  j: number,
  c0: number,
  c1: number,
  P: Float64Array,
  m: number,
): void {
  const a0 = i * p;
  const a1 = a0 + p;
  const a2 = a1 + p;
  const a3 = a2 + p;
  const b0 = j * p;
  const b1 = b0 + p;
  const b2 = b1 + p;
  const b3 = b2 + p;
  let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
  let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
  let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
  let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
  for (let c = c0; c < c1; c++) {
    const x0 = x[a0 + c];
    const x1 = x[a1 + c];
    const x2 = x[a2 + c];
    const x3 = x[a3 + c];
    const y0 = y[b0 + c];
    const y1 = y[b1 + c];
    const y2 = y[b2 + c];
    const y3 = y[b3 + c];
    s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
    s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
    s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
    s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
  }
  const r0 = i * m + j;
  const r1 = r0 + m;
  const r2 = r1 + m;
  const r3 = r2 + m;
  P[r0] += s00; P[r0 + 1] += s01; P[r0 + 2] += s02; P[r0 + 3] += s03;
  P[r1] += s10; P[r1 + 1] += s11; P[r1 + 2] += s12; P[r1 + 3] += s13;
  P[r2] += s20; P[r2 + 1] += s21; P[r2 + 2] += s22; P[r2 + 3] += s23;
  P[r3] += s30; P[r3 + 1] += s31; P[r3 + 2] += s32; P[r3 + 3] += s33;
}

function blockEdge(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  p: number,
  i: number,
  iRows: number,
  j: number,
  jRows: number,
  c0: number,
  c1: number,
  P: Float64Array,
  m: number,
): void {
  for (let di = 0; di < iRows; di++) {
    const a = (i + di) * p;
    for (let dj = 0; dj < jRows; dj++) {
      const b = (j + dj) * p;
      let s = 0;
      for (let c = c0; c < c1; c++) s += x[a + c] * y[b + c];
      P[(i + di) * m + j + dj] += s;
    }
  }
}
