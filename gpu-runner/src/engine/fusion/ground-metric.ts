/**
 * The OT ground metric between two layers' neurons (docs/algorithm.md §7.4,
 * `GroundMetric.process` of the official code). Rows are neurons; the columns
 * are activations over the calibration samples (activation-based fusion) or
 * incoming weights (weight-based fusion).
 */
import { FusionError } from '@clafusion/model-format/errors';
import { type Mat64, mat64 } from '@clafusion/model-format/tensor';
import { type RowMatrix, rowMajor, rowProductsWithNorms } from './row-products.ts';

/** Neuron rows, row-major: float32 straight from recorded activations, float64 for weights. */
export type Rows = Float32Array | Float64Array;

/**
 * Neuron rows as the ground metric takes them: row-major, or a matrix with a
 * layout (a recorded tap's channel rows read in place, taps.ts), which the
 * efficient metric reads without a copy and the others copy to row-major.
 */
export type RowsIn = Rows | RowMatrix;

export type GroundMetricNormalization = 'none' | 'log' | 'max' | 'median' | 'mean';

export interface GroundMetricOptions {
  metric: 'euclidean' | 'cosine';
  /** Squared Euclidean distances (the parser's default); the paper passes --not-squared. */
  squared: boolean;
  /** ‖a‖² + ‖b‖² − 2a·b expansion (`--ground-metric-eff`, CNN scripts). */
  efficient: boolean;
  /**
   * Divide squared distances by the sample count t (`--dist-normalize`). As in
   * the official code it only acts together with `efficient`.
   */
  distNormalize: boolean;
  normalize: GroundMetricNormalization;
}

/** The MLP scripts' setting: direct Euclidean, not squared, no normalisation. */
export const MLP_GROUND_METRIC: GroundMetricOptions = {
  metric: 'euclidean',
  squared: false,
  efficient: false,
  distNormalize: true,
  normalize: 'none',
};

/** The CNN scripts' setting: the efficient expansion with 1/t, not squared. */
export const CNN_GROUND_METRIC: GroundMetricOptions = { ...MLP_GROUND_METRIC, efficient: true };

/**
 * M ∈ R^{n0×n1} between rows a (n0×d) and b (n1×d). `t` is the number of
 * calibration samples, used only by `distNormalize`.
 */
export function groundMetric(
  aIn: RowsIn,
  n0: number,
  bIn: RowsIn,
  n1: number,
  d: number,
  t: number,
  options: GroundMetricOptions,
): Mat64 {
  const A = asMatrix(aIn, n0, d);
  const B = asMatrix(bIn, n1, d);
  if (!A || !B) {
    throw new FusionError('SHAPE_MISMATCH', `ground metric rows do not match: ${n0}×${d} and ${n1}×${d} expected`);
  }
  const M = mat64(n0, n1);
  const a = () => rowMajor(A).data as Rows;
  const b = () => rowMajor(B).data as Rows;
  if (options.metric === 'cosine') cosineDistances(a(), n0, b(), n1, d, M.data);
  else if (options.efficient) {
    expandedSquaredDistances(A, B, M.data);
    if (options.distNormalize) for (let i = 0; i < M.data.length; i++) M.data[i] /= t;
    if (!options.squared) for (let i = 0; i < M.data.length; i++) M.data[i] = Math.sqrt(M.data[i]);
  } else {
    directSquaredDistances(a(), n0, b(), n1, d, M.data);
    if (!options.squared) for (let i = 0; i < M.data.length; i++) M.data[i] = Math.sqrt(M.data[i]);
  }
  normalizeInPlace(M.data, options.normalize);
  for (let i = 0; i < M.data.length; i++) {
    const v = M.data[i];
    if (!(v >= 0) || !Number.isFinite(v)) {
      throw new FusionError('NON_FINITE', `ground metric entry (${Math.floor(i / n1)}, ${i % n1}) is ${v}; the activations or weights contain NaN/Inf`);
    }
  }
  return M;
}

/** The rows as a matrix of n rows of d values, or null when they do not hold that. */
function asMatrix(x: RowsIn, n: number, d: number): RowMatrix | null {
  if (x instanceof Float32Array || x instanceof Float64Array) return x.length === n * d ? { data: x, rows: n, cols: d } : null;
  if (x.rows !== n || x.cols !== d) return null;
  return x.layout || x.data.length === n * d ? x : null;
}

/**
 * Columns per block of the direct distances: a block of every row of both
 * sides (DIRECT_BLOCK · (n0 + n1) values) stays in cache while all pairs read it.
 */
export const DIRECT_BLOCK = 512;

/**
 * Σ_f (a_if − b_jf)² for every pair, each pair's terms added one by one in
 * increasing f: the official code's sum (in float64), and a chain of
 * dependent additions, so one pair at a time runs at the adder's latency
 * (3.5 ns per term measured). Four pairs (i, j…j+3) go through the loop
 * together instead, four independent chains sharing the load of a_if; each
 * pair still adds its own terms in increasing f, so the bits are the same.
 * The columns go in blocks, each pair's running sum carried from one block
 * to the next (the same order again), so that the rows are read from cache:
 * a conv layer's row is up to 204,800 values.
 */
export function directSquaredDistances(a: Rows, n0: number, b: Rows, n1: number, d: number, out: Float64Array, block = DIRECT_BLOCK) {
  out.fill(0, 0, n0 * n1);
  const n1By4 = n1 - (n1 % 4);
  for (let f0 = 0; f0 < d; f0 += block) {
    const f1 = Math.min(d, f0 + block);
    for (let i = 0; i < n0; i++) {
      const ai = i * d;
      const o = i * n1;
      let j = 0;
      for (; j < n1By4; j += 4) {
        const b0 = j * d;
        const b1 = b0 + d;
        const b2 = b1 + d;
        const b3 = b2 + d;
        let s0 = out[o + j];
        let s1 = out[o + j + 1];
        let s2 = out[o + j + 2];
        let s3 = out[o + j + 3];
        for (let f = f0; f < f1; f++) {
          const x = a[ai + f];
          const d0 = x - b[b0 + f];
          const d1 = x - b[b1 + f];
          const d2 = x - b[b2 + f];
          const d3 = x - b[b3 + f];
          s0 += d0 * d0;
          s1 += d1 * d1;
          s2 += d2 * d2;
          s3 += d3 * d3;
        }
        out[o + j] = s0;
        out[o + j + 1] = s1;
        out[o + j + 2] = s2;
        out[o + j + 3] = s3;
      }
      for (; j < n1; j++) {
        const bj = j * d;
        let s = out[o + j];
        for (let f = f0; f < f1; f++) {
          const diff = a[ai + f] - b[bj + f];
          s += diff * diff;
        }
        out[o + j] = s;
      }
    }
  }
}

function rowSquaredNorms(x: Rows, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let f = 0; f < d; f++) s += x[i * d + f] * x[i * d + f];
    out[i] = s;
  }
  return out;
}

function expandedSquaredDistances(A: RowMatrix, B: RowMatrix, out: Float64Array) {
  const n0 = A.rows;
  const n1 = B.rows;
  // The a·b products dominate for conv layers (d = H·W·t, up to 204800); the
  // norms come with them, summed in the order rowSquaredNorms sums.
  const { products: dot, normsA: na, normsB: nb } = rowProductsWithNorms(A, B);
  for (let i = 0; i < n0; i++) {
    for (let j = 0; j < n1; j++) out[i * n1 + j] = Math.max(0, na[i] + nb[j] - 2 * dot[i * n1 + j]);
  }
}

function cosineDistances(a: Rows, n0: number, b: Rows, n1: number, d: number, out: Float64Array) {
  const na = rowSquaredNorms(a, n0, d);
  const nb = rowSquaredNorms(b, n1, d);
  for (let i = 0; i < n0; i++) {
    for (let j = 0; j < n1; j++) {
      let dot = 0;
      for (let f = 0; f < d; f++) dot += a[i * d + f] * b[j * d + f];
      out[i * n1 + j] = Math.max(0, 1 - dot / Math.sqrt(na[i] * nb[j]));
    }
  }
}

function normalizeInPlace(M: Float64Array, how: GroundMetricNormalization) {
  switch (how) {
    case 'none':
      return;
    case 'log':
      for (let i = 0; i < M.length; i++) M[i] = Math.log1p(M[i]);
      return;
    case 'max':
      return scale(M, M.reduce((mx, v) => Math.max(mx, v), -Infinity));
    case 'mean':
      return scale(M, M.reduce((s, v) => s + v, 0) / M.length);
    case 'median': {
      // torch.median returns the lower of the two middle values.
      const sorted = Float64Array.from(M).sort();
      return scale(M, sorted[Math.floor((sorted.length - 1) / 2)]);
    }
  }
}

function scale(M: Float64Array, by: number) {
  for (let i = 0; i < M.length; i++) M[i] /= by;
}
