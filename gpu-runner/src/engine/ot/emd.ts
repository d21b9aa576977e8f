/**
 * Exact optimal transport: POT 0.8's `ot.emd` / `ot.emd2` (ot/lp/__init__.py), its Cython
 * `emd_c` (ot/lp/emd_wrap.pyx) and C++ `EMD_wrap` (ot/lp/EMD_wrapper.cpp), on top of the
 * network-simplex port. Fed the same float64 a, b and M, it returns POT's plan, also on
 * degenerate problems (docs/algorithm.md §7.7).
 *
 * Deliberate differences from POT, all on inputs POT would also reject or warn about:
 * - non-OPTIMAL solver exits (POT: `warnings.warn` from check_result) throw SOLVER_FAILED;
 * - invalid inputs throw INVALID_ARGUMENT before any solve (POT asserts, or EMD_wrap returns
 *   INFEASIBLE for negative masses); empty marginals are rejected rather than replaced by
 *   uniform ones as POT does for `len(a) == 0`, because an empty marginal in this engine can
 *   only come from a bug upstream.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { NetworkSimplexSimple, ProblemType, type ProblemTypeCode } from './network-simplex.ts';
import { numpySum } from './numpy-sum.ts';

export interface EmdOptions {
  /** POT's `numItermax`: cap on network-simplex pivots. Default 100000. */
  maxIter?: number;
}

export interface EmdResult {
  /** Row-major n×m transport plan. */
  plan: Float64Array;
  /** Σ plan·M, accumulated as EMD_wrap does (arcs in decreasing graph order). */
  cost: number;
  /** Main-loop network-simplex pivots. */
  iterations: number;
}

/** POT's default `numItermax`. */
export const EMD_DEFAULT_MAX_ITER = 100000;

/**
 * `np.testing.assert_almost_equal(a.sum(0), b.sum(0))` with the default decimal=7 used by
 * POT 0.8's emd: fails when |Σa − Σb| >= 1.5e-7.
 */
export const EMD_MASS_TOLERANCE = 1.5e-7;

/** Raw output of EMD_wrap: plan, cost, duals and the ProblemType code. */
export interface EmdWrapResult {
  plan: Float64Array;
  cost: number;
  alpha: Float64Array;
  beta: Float64Array;
  result: ProblemTypeCode;
  iterations: number;
}

/**
 * `EMD_wrap(n1, n2, X, Y, D, G, alpha, beta, cost, maxIter)`: drops zero-mass rows and
 * columns, builds the full bipartite graph on the rest (sources get X, targets −Y), sets arc
 * costs in graph order, runs the network simplex and scatters flows, cost and duals back.
 * No validation beyond the C++'s own (negative mass → INFEASIBLE).
 */
export function emdWrap(
  n1: number,
  n2: number,
  X: Float64Array,
  Y: Float64Array,
  D: Float64Array,
  maxIter: number,
): EmdWrapResult {
  const G = new Float64Array(n1 * n2);
  const alpha = new Float64Array(n1);
  const beta = new Float64Array(n2);
  const empty = (result: ProblemTypeCode): EmdWrapResult => ({ plan: G, cost: 0, alpha, beta, result, iterations: 0 });

  // Get the number of non zero coordinates for r and c
  let n = 0;
  for (let i = 0; i < n1; i++) {
    const val = X[i];
    if (val > 0) n++;
    else if (val < 0) return empty(ProblemType.INFEASIBLE);
  }
  let m = 0;
  for (let i = 0; i < n2; i++) {
    const val = Y[i];
    if (val > 0) m++;
    else if (val < 0) return empty(ProblemType.INFEASIBLE);
  }

  const indI = new Int32Array(n);
  const indJ = new Int32Array(m);
  const weights1 = new Float64Array(n);
  const weights2 = new Float64Array(m);
  const net = new NetworkSimplexSimple(n, m, maxIter);

  // Set supply and demand, don't account for 0 values (faster)
  let cur = 0;
  for (let i = 0; i < n1; i++) {
    const val = X[i];
    if (val > 0) {
      weights1[cur] = val;
      indI[cur++] = i;
    }
  }
  // Demand is actually negative supply...
  cur = 0;
  for (let i = 0; i < n2; i++) {
    const val = Y[i];
    if (val > 0) {
      weights2[cur] = -val;
      indJ[cur++] = i;
    }
  }
  net.supplyMap(weights1, weights2);

  // Set the cost of each edge
  let idarc = 0;
  for (let i = 0; i < n; i++) {
    const row = indI[i] * n2;
    for (let j = 0; j < m; j++) {
      net.setCost(idarc, D[row + indJ[j]]);
      ++idarc;
    }
  }

  // Solve the problem with the network simplex algorithm
  const ret = net.run();
  let cost = 0;
  if (ret === ProblemType.OPTIMAL || ret === ProblemType.MAX_ITER_REACHED) {
    // `Arc a; di.first(a); for (; a != INVALID; di.next(a))`: a = n*m-1 … 0. The order fixes
    // the rounding of the accumulated cost.
    for (let a = n * m - 1; a !== -1; --a) {
      const i = Math.trunc(a / m); // di.source(a)
      const j = (a % m) + n; // di.target(a)
      const flow = net.flow(a);
      const at = indI[i] * n2 + indJ[j - n];
      cost += flow * D[at];
      G[at] = flow;
      alpha[indI[i]] = -net.potential(i);
      beta[indJ[j - n]] = net.potential(j);
    }
  }
  return { plan: G, cost, alpha, beta, result: ret, iterations: net.iterations };
}

function invalid(message: string, argument: string, extra: Record<string, unknown> = {}): FusionError {
  return new FusionError('INVALID_ARGUMENT', message, { argument, ...extra });
}

function checkMarginal(x: Float64Array, name: 'a' | 'b'): void {
  if (!(x instanceof Float64Array)) throw invalid(`${name} must be a Float64Array`, name);
  if (x.length === 0) throw invalid(`marginal ${name} is empty`, name);
  let positive = false;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) throw invalid(`marginal ${name} has non-finite mass ${v} at index ${i}`, name, { index: i });
    if (v < 0) throw invalid(`marginal ${name} has negative mass ${v} at index ${i}`, name, { index: i });
    if (v > 0) positive = true;
  }
  if (!positive) throw invalid(`marginal ${name} has zero total mass`, name);
}

function checkCost(M: Float64Array, n: number, m: number): void {
  if (!(M instanceof Float64Array)) throw invalid('M must be a Float64Array', 'M');
  if (M.length !== n * m) {
    throw invalid(`M has ${M.length} entries, expected ${n}x${m} = ${n * m} (row-major, rows follow a)`, 'M', {
      expected: n * m,
      actual: M.length,
    });
  }
  for (let k = 0; k < M.length; k++) {
    const v = M[k];
    if (!Number.isFinite(v) || v < 0) {
      const row = Math.trunc(k / m);
      throw invalid(`M[${row}, ${k - row * m}] = ${v}: costs must be finite and non-negative`, 'M', {
        row,
        col: k - row * m,
      });
    }
  }
}

function checkMaxIter(maxIter: number): void {
  if (!Number.isSafeInteger(maxIter) || maxIter < 1) {
    throw invalid(`maxIter must be a positive integer, got ${maxIter}`, 'maxIter');
  }
}

/**
 * What `ot.emd` does before `emd_c`: validate, check equal mass like
 * `np.testing.assert_almost_equal(a.sum(0), b.sum(0))`, then rescale
 * `b = b * a.sum() / b.sum()` (numpy sums, elementwise `(b_j * Σa) / Σb`).
 */
function prepare(a: Float64Array, b: Float64Array, M: Float64Array, opts: EmdOptions): { b: Float64Array; maxIter: number } {
  checkMarginal(a, 'a');
  checkMarginal(b, 'b');
  checkCost(M, a.length, b.length);
  const maxIter = opts.maxIter ?? EMD_DEFAULT_MAX_ITER;
  checkMaxIter(maxIter);

  const sa = numpySum(a);
  const sb = numpySum(b);
  if (!(Math.abs(sa - sb) < EMD_MASS_TOLERANCE)) {
    throw invalid(`a and b must have the same total mass: sum(a) = ${sa}, sum(b) = ${sb}`, 'b', {
      sumA: sa,
      sumB: sb,
    });
  }
  const scaled = new Float64Array(b.length);
  for (let j = 0; j < b.length; j++) scaled[j] = (b[j] * sa) / sb;
  return { b: scaled, maxIter };
}

/** `check_result(result_code)` of ot/lp/__init__.py, raising instead of warning. */
function checkResult(code: ProblemTypeCode, iterations: number, maxIter: number): void {
  if (code === ProblemType.OPTIMAL) return;
  const message =
    code === ProblemType.INFEASIBLE
      ? 'Problem infeasible. Check that a and b are in the simplex'
      : code === ProblemType.UNBOUNDED
        ? 'Problem unbounded'
        : `numItermax reached before optimality (${maxIter}). Try to increase numItermax.`;
  const result = code === ProblemType.INFEASIBLE ? 'INFEASIBLE' : code === ProblemType.UNBOUNDED ? 'UNBOUNDED' : 'MAX_ITER_REACHED';
  throw new FusionError('SOLVER_FAILED', `exact OT (network simplex): ${message}`, { result, iterations, maxIter });
}

/**
 * `ot.emd(a, b, M, numItermax)`: the optimal plan for marginals a (length n) and b
 * (length m) and row-major n×m cost M. Throws INVALID_ARGUMENT on bad input and SOLVER_FAILED
 * when the solver stops short of optimality.
 */
export function emd(a: Float64Array, b: Float64Array, M: Float64Array, opts: EmdOptions = {}): EmdResult {
  const { b: bScaled, maxIter } = prepare(a, b, M, opts);
  const r = emdWrap(a.length, b.length, a, bScaled, M, maxIter);
  checkResult(r.result, r.iterations, maxIter);
  return { plan: r.plan, cost: r.cost, iterations: r.iterations };
}

/** `ot.emd2(a, b, M, numItermax)`: the optimal cost only (the cost EMD_wrap accumulates). */
export function emd2(a: Float64Array, b: Float64Array, M: Float64Array, opts: EmdOptions = {}): number {
  return emd(a, b, M, opts).cost;
}
