/**
 * The CLA dynamic program (docs/algorithm.md §4): match the n hidden layers of the
 * shallower model B to n of the m hidden layers of the deeper model A with a
 * strictly increasing map that minimises the summed cost.
 *
 * This follows the official `align` function to the letter, including its tie
 * rule (when skipping an A layer and matching it cost exactly the same, skip
 * wins during the backtrack) and its handling of the constraints *inside* the
 * DP, which can differ from the paper's Algorithm 1 read literally (§4.6).
 */
import { FusionError } from '@clafusion/model-format/errors';
import type { Mat64 } from '@clafusion/model-format/tensor';

export interface AlignOptions {
  /**
   * First free B layer, 1-based (`--start-layer-idx`, default 2): layers
   * k < s are matched to A layer k. s = 2 is the first-layer constraint.
   */
  startLayer: number;
  /**
   * Number of fixed end layers (`--free-end-layers`, default 1, despite the
   * name): a(n−r) = m−r for r < f. f = 1 is the last-layer constraint.
   */
  fixedEndLayers: number;
}

export const DEFAULT_ALIGN_OPTIONS: AlignOptions = { startLayer: 2, fixedEndLayers: 1 };

/**
 * Returns the 1-based mapping a of length n for the m×n cost matrix `cost`
 * (rows = A's hidden layers, columns = B's hidden layers).
 */
export function alignLayers(cost: Mat64, options: AlignOptions = DEFAULT_ALIGN_OPTIONS): number[] {
  const m = cost.rows;
  const n = cost.cols;
  const s = options.startLayer;
  const f = options.fixedEndLayers;
  if (n < 1) throw new FusionError('INVALID_ARGUMENT', 'the shallower model has no hidden layer to align');
  if (m < n) {
    throw new FusionError('INVALID_ARGUMENT', `cost matrix has ${m} rows (deeper model) but ${n} columns; need rows ≥ columns`);
  }
  if (!Number.isInteger(s) || s < 1) throw new FusionError('INVALID_ARGUMENT', `startLayer must be an integer ≥ 1, got ${s}`);
  if (!Number.isInteger(f) || f < 0) throw new FusionError('INVALID_ARGUMENT', `fixedEndLayers must be an integer ≥ 0, got ${f}`);
  for (let i = 0; i < cost.data.length; i++) {
    if (Number.isNaN(cost.data[i])) {
      const row = Math.floor(i / n) + 1;
      const col = (i % n) + 1;
      throw new FusionError(
        'INVALID_ARGUMENT',
        `layer cost C[${row}][${col}] is NaN (a constant layer gives an undefined CKA); use another layer cost or calibration data that excites every layer`,
        { row, col },
      );
    }
  }

  // Step 1: a single B layer is always matched to A's first ("prioritise the
  // first layer"), whatever the costs and constraints.
  if (n === 1) return [1];
  if (s - 1 + f > n) {
    throw new FusionError(
      'INVALID_ARGUMENT',
      `the constraints fix ${s - 1} first and ${f} last layers, more than the ${n} layers of the shallower model`,
    );
  }

  const C = (i: number, j: number): number => cost.data[(i - 1) * n + (j - 1)]; // 1-based
  // F is (n+1)×(m+1), zero-initialised; cells never written stay 0 and are never read.
  const F: Float64Array[] = Array.from({ length: n + 1 }, () => new Float64Array(m + 1));

  // Step 2: the diagonal is the cost of the identity map of the first k layers.
  let acc = 0;
  for (let k = 1; k <= n; k++) {
    acc += C(k, k);
    F[k][k] = acc;
  }
  // Step 3: pin the first s−1 layers inside the optimisation.
  if (s > 1) {
    for (let l = s; l <= m - f; l++) F[s - 1][l] = F[s - 1][s - 1];
  }
  // Step 4: skip A layer l, or match B layer k to it.
  for (let k = s; k <= n - f; k++) {
    for (let l = k + 1; l <= m - f; l++) {
      F[k][l] = Math.min(F[k][l - 1], F[k - 1][l - 1] + C(l, k));
    }
  }

  // Step 5: the fixed ends.
  const a = new Array<number>(n).fill(0);
  for (let k = 1; k < s; k++) a[k - 1] = k;
  for (let r = 0; r < f; r++) a[n - r - 1] = m - r;

  // Step 6: backtrack, preferring to skip on exact ties.
  let k = n - f;
  let l = m - f;
  while (k >= s) {
    while (l >= k + 1 && F[k][l] === F[k][l - 1]) l -= 1;
    a[k - 1] = l;
    k -= 1;
    l -= 1;
  }
  return a;
}

/** The "chain" (naive) mapping a(k) = k, used by the paper's baselines. */
export function chainMapping(n: number, m: number): number[] {
  if (n > m) throw new FusionError('INVALID_ARGUMENT', `cannot chain ${n} layers into ${m}`);
  return Array.from({ length: n }, (_, k) => k + 1);
}

/**
 * The random baseline mapping (§4.5): a(1) = 1 and a(2..n) a sorted sample
 * without replacement from {2..m}. The official code never applies the
 * last-layer constraint here and never seeds its RNG; we take the random
 * source from the caller so runs are reproducible.
 */
export function randomMapping(n: number, m: number, random: () => number): number[] {
  if (n > m) throw new FusionError('INVALID_ARGUMENT', `cannot map ${n} layers into ${m}`);
  if (n === 0) return [];
  const pool = Array.from({ length: m - 1 }, (_, i) => i + 2);
  // Partial Fisher–Yates: the first n−1 entries become a uniform sample.
  for (let i = 0; i < n - 1; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return [1, ...pool.slice(0, n - 1).sort((x, y) => x - y)];
}

/** Validates a user-given mapping: n entries, strictly increasing, within 1..m. */
export function validateMapping(mapping: readonly number[], n: number, m: number, what = 'mapping'): number[] {
  if (mapping.length !== n) {
    throw new FusionError('INVALID_ARGUMENT', `${what} has ${mapping.length} entries but the shallower model has ${n} hidden layers`, {
      field: what,
    });
  }
  for (let k = 0; k < n; k++) {
    const v = mapping[k];
    if (!Number.isInteger(v) || v < 1 || v > m) {
      throw new FusionError('INVALID_ARGUMENT', `${what}[${k + 1}] = ${v} is not a layer of the deeper model (1..${m})`, {
        field: what,
      });
    }
    if (k > 0 && v <= mapping[k - 1]) {
      throw new FusionError('INVALID_ARGUMENT', `${what} must be strictly increasing (entry ${k + 1} is ${v} after ${mapping[k - 1]})`, {
        field: what,
      });
    }
  }
  return [...mapping];
}

/** Σ_k C[a(k)][k], the objective the DP minimises. */
export function mappingCost(cost: Mat64, mapping: readonly number[]): number {
  let total = 0;
  mapping.forEach((row, k) => {
    total += cost.data[(row - 1) * cost.cols + k];
  });
  return total;
}
