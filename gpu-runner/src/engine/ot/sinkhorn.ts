/**
 * Entropic OT with POT's `ot.sinkhorn` semantics (ot/bregman.py, POT 0.8): minimise
 * <T, M> − reg·H(T) subject to T𝟙 = a, Tᵀ𝟙 = b. Used only when exact OT is switched off
 * (docs/algorithm.md §7.6, `--exact` off; the paper does not use it).
 *
 * - `sinkhorn_knopp`: K = exp(−M/reg), alternate v = b / Kᵀu, u = 1 / (diag(1/a) K v), check
 *   the column-marginal error ‖Σ_i T_ij − b‖₂ every 10th iteration, stop below stopThr. As in
 *   POT, a NaN/Inf or zero Kᵀu rolls back to the previous scaling and stops.
 * - `sinkhorn_log`: the same iteration on log-scalings with log-sum-exp, which cannot
 *   underflow; POT's `method='sinkhorn_log'`.
 * - `auto` (the default here): log domain whenever K would underflow (max M / reg > 600) or a
 *   marginal has zero entries (1/a would be infinite), so no NaN is ever produced.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { numpySum } from './numpy-sum.ts';

export type SinkhornMethod = 'sinkhorn' | 'sinkhorn_log' | 'auto';

export interface SinkhornOptions {
  /** POT's numItermax. Default 1000. */
  maxIter?: number;
  /** POT's stopThr on the column-marginal violation. Default 1e-9. */
  stopThr?: number;
  method?: SinkhornMethod;
}

export interface SinkhornResult {
  plan: Float64Array;
  /** Iterations run (the loop index at exit + 1). */
  iterations: number;
  /** Last measured column-marginal violation ‖Tᵀ𝟙 − b‖₂. */
  err: number;
  method: 'sinkhorn' | 'sinkhorn_log';
  /** True if the plain iteration hit a numerical error and returned the previous scaling. */
  numericalError: boolean;
}

function invalid(message: string, argument: string): FusionError {
  return new FusionError('INVALID_ARGUMENT', message, { argument });
}

function validate(a: Float64Array, b: Float64Array, M: Float64Array, reg: number): void {
  for (const [name, x] of [['a', a], ['b', b]] as const) {
    if (x.length === 0) throw invalid(`marginal ${name} is empty`, name);
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]) || x[i] < 0) throw invalid(`marginal ${name}[${i}] = ${x[i]} is not a finite non-negative mass`, name);
    }
    if (!(numpySum(x) > 0)) throw invalid(`marginal ${name} has zero total mass`, name);
  }
  if (M.length !== a.length * b.length) {
    throw invalid(`M has ${M.length} entries, expected ${a.length}x${b.length}`, 'M');
  }
  for (let k = 0; k < M.length; k++) {
    if (!Number.isFinite(M[k])) throw invalid(`M entry ${k} is ${M[k]}`, 'M');
  }
  if (!(reg > 0) || !Number.isFinite(reg)) throw invalid(`reg must be a positive finite number, got ${reg}`, 'reg');
  if (Math.abs(numpySum(a) - numpySum(b)) >= 1.5e-7) {
    throw invalid(`a and b must have the same total mass (${numpySum(a)} vs ${numpySum(b)})`, 'b');
  }
}

function norm2Diff(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - y[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

function hasBad(x: Float64Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return true;
  return false;
}

/** `sinkhorn_knopp`: plain scaling iterations. */
function sinkhornKnopp(a: Float64Array, b: Float64Array, M: Float64Array, reg: number, maxIter: number, stopThr: number): SinkhornResult {
  const n = a.length;
  const m = b.length;
  const K = new Float64Array(n * m);
  for (let k = 0; k < K.length; k++) K[k] = Math.exp(M[k] / -reg);
  // Kp = (1 / a).reshape(-1, 1) * K
  const Kp = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) Kp[i * m + j] = (1 / a[i]) * K[i * m + j];
  let u = new Float64Array(n).fill(1 / n);
  let v = new Float64Array(m).fill(1 / m);
  const Ktu = new Float64Array(m);
  const col = new Float64Array(m);
  let err = 1;
  let ii = 0;
  let numericalError = false;
  for (; ii < maxIter; ii++) {
    const uprev = u;
    const vprev = v;
    Ktu.fill(0);
    for (let i = 0; i < n; i++) {
      const ui = u[i];
      const row = i * m;
      for (let j = 0; j < m; j++) Ktu[j] += K[row + j] * ui;
    }
    const vNew = new Float64Array(m);
    let zero = false;
    for (let j = 0; j < m; j++) {
      if (Ktu[j] === 0) zero = true;
      vNew[j] = b[j] / Ktu[j];
    }
    const uNew = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      const row = i * m;
      for (let j = 0; j < m; j++) s += Kp[row + j] * vNew[j];
      uNew[i] = 1 / s; // u = 1. / nx.dot(Kp, v)
    }
    if (zero || hasBad(uNew) || hasBad(vNew)) {
      // "we have reached the machine precision, come back to previous solution and quit loop"
      u = uprev;
      v = vprev;
      numericalError = true;
      break;
    }
    u = uNew;
    v = vNew;
    if (ii % 10 === 0) {
      col.fill(0);
      for (let i = 0; i < n; i++) {
        const row = i * m;
        for (let j = 0; j < m; j++) col[j] += u[i] * K[row + j] * v[j];
      }
      err = norm2Diff(col, b);
      if (err < stopThr) break;
    }
  }
  const plan = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) plan[i * m + j] = u[i] * K[i * m + j] * v[j];
  return { plan, iterations: Math.min(ii + 1, maxIter), err, method: 'sinkhorn', numericalError };
}

/** Stable log Σ exp over a strided run of values. */
function logSumExp(x: Float64Array, start: number, count: number, stride: number): number {
  let mx = -Infinity;
  for (let k = 0; k < count; k++) {
    const t = x[start + k * stride];
    if (t > mx) mx = t;
  }
  if (mx === -Infinity) return -Infinity;
  let s = 0;
  for (let k = 0; k < count; k++) s += Math.exp(x[start + k * stride] - mx);
  return mx + Math.log(s);
}

/** `sinkhorn_log`: u, v are log-scalings; T = exp(−M/reg + u_i + v_j). */
function sinkhornLog(a: Float64Array, b: Float64Array, M: Float64Array, reg: number, maxIter: number, stopThr: number): SinkhornResult {
  const n = a.length;
  const m = b.length;
  const Mr = new Float64Array(n * m);
  for (let k = 0; k < Mr.length; k++) Mr[k] = -M[k] / reg;
  const loga = a.map(Math.log);
  const logb = b.map(Math.log);
  const u = new Float64Array(n);
  const v = new Float64Array(m);
  const work = new Float64Array(n * m);
  const col = new Float64Array(m);
  let err = 1;
  let ii = 0;
  for (; ii < maxIter; ii++) {
    // v = log b − logsumexp_i(Mr + u_i)
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) work[i * m + j] = Mr[i * m + j] + u[i];
    for (let j = 0; j < m; j++) v[j] = logb[j] === -Infinity ? -Infinity : logb[j] - logSumExp(work, j, n, m);
    // u = log a − logsumexp_j(Mr + v_j)
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) work[i * m + j] = Mr[i * m + j] + v[j];
    for (let i = 0; i < n; i++) u[i] = loga[i] === -Infinity ? -Infinity : loga[i] - logSumExp(work, i * m, m, 1);
    if (ii % 10 === 0) {
      col.fill(0);
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) col[j] += Math.exp(Mr[i * m + j] + u[i] + v[j]);
      err = norm2Diff(col, b);
      if (err < stopThr) break;
    }
  }
  const plan = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) plan[i * m + j] = Math.exp(Mr[i * m + j] + u[i] + v[j]);
  return { plan, iterations: Math.min(ii + 1, maxIter), err, method: 'sinkhorn_log', numericalError: false };
}

/**
 * `ot.sinkhorn(a, b, M, reg, method, numItermax=1000, stopThr=1e-9)`: the entropic plan.
 * Zero-mass entries get zero rows/columns; with `method: 'auto'` the result never has NaN.
 */
export function sinkhorn(a: Float64Array, b: Float64Array, M: Float64Array, reg: number, opts: SinkhornOptions = {}): SinkhornResult {
  validate(a, b, M, reg);
  const maxIter = opts.maxIter ?? 1000;
  const stopThr = opts.stopThr ?? 1e-9;
  if (!Number.isSafeInteger(maxIter) || maxIter < 1) throw invalid(`maxIter must be a positive integer, got ${maxIter}`, 'maxIter');
  if (!(stopThr >= 0)) throw invalid(`stopThr must be non-negative, got ${stopThr}`, 'stopThr');
  let method = opts.method ?? 'auto';
  if (method === 'auto') {
    let maxM = 0;
    for (let k = 0; k < M.length; k++) maxM = Math.max(maxM, Math.abs(M[k]));
    const zeroMass = a.some((x) => x === 0) || b.some((x) => x === 0);
    method = maxM / reg > 600 || zeroMass ? 'sinkhorn_log' : 'sinkhorn';
  }
  return method === 'sinkhorn' ? sinkhornKnopp(a, b, M, reg, maxIter, stopThr) : sinkhornLog(a, b, M, reg, maxIter, stopThr);
}
