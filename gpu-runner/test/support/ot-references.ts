/**
 * Independent references for the OT tests: brute force over permutations, enumeration of the
 * basic feasible solutions of the transportation LP, marginal checks, random problems, and the
 * POT golden fixture reader (the fixture lives beside the solver it checks).
 */
import { readFileSync } from 'node:fs';
import { Rng } from '../../src/engine/rng.ts';

/** Parses Python's `float.hex()` / C's `%a` output exactly. */
export function fromHex(s: string): number {
  const m = /^(-)?0x([01])(?:\.([0-9a-f]*))?p([+-]\d+)$/.exec(s);
  if (m === null) throw new Error(`not a hex float: ${s}`);
  const frac = m[3] ?? '';
  const mant = Number(m[2]) + (frac.length > 0 ? parseInt(frac, 16) / 2 ** (4 * frac.length) : 0);
  const v = mant * 2 ** Number(m[4]);
  return m[1] === '-' ? -v : v;
}

export const f64 = (xs: readonly string[]): Float64Array => Float64Array.from(xs, fromHex);

export interface GoldenCase {
  name: string;
  n: number;
  m: number;
  maxIter: number;
  a: string[];
  b: string[];
  M: string[];
  sumA: string;
  sumB: string;
  bScaled: string[];
  result: number;
  iterations: number;
  cost: string;
  plan: [number, string][];
}

export interface Golden {
  cases: GoldenCase[];
  sums: { x: string[]; sum: string }[];
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(new URL('../../src/engine/ot/fixtures/pot-golden.json', import.meta.url), 'utf8')) as Golden;
}

export function uniform(n: number): Float64Array {
  return new Float64Array(n).fill(1 / n);
}

export function randomMatrix(rng: Rng, n: number, m: number): Float64Array {
  const M = new Float64Array(n * m);
  for (let k = 0; k < M.length; k++) M[k] = rng.uniform();
  return M;
}

/** Random marginal with entries in {1..4}/total (exact-ish ratios make ties likely). */
export function randomMarginal(rng: Rng, n: number): Float64Array {
  const x = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] = 1 + rng.integer(4);
  for (let i = 0; i < n; i++) x[i] /= s;
  return x;
}

export function planCost(plan: Float64Array, M: Float64Array): number {
  let c = 0;
  for (let k = 0; k < plan.length; k++) c += plan[k] * M[k];
  return c;
}

/** Largest |row sum − a_i|, |column sum − b_j| and the most negative entry's magnitude. */
export function marginalError(plan: Float64Array, a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const m = b.length;
  let worst = 0;
  const col = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let j = 0; j < m; j++) {
      const t = plan[i * m + j];
      if (t < 0) worst = Math.max(worst, -t);
      r += t;
      col[j] += t;
    }
    worst = Math.max(worst, Math.abs(r - a[i]));
  }
  for (let j = 0; j < m; j++) worst = Math.max(worst, Math.abs(col[j] - b[j]));
  return worst;
}

/** Minimum of Σ_i M[i, σ(i)] / n over all permutations σ (Birkhoff: the uniform optimum). */
export function bruteForceUniformSquare(M: Float64Array, n: number): number {
  const perm = Array.from({ length: n }, (_, i) => i);
  let best = Infinity;
  const visit = (k: number, acc: number): void => {
    if (k === n) {
      best = Math.min(best, acc);
      return;
    }
    for (let t = k; t < n; t++) {
      [perm[k], perm[t]] = [perm[t], perm[k]];
      visit(k + 1, acc + M[k * n + perm[k]]);
      [perm[k], perm[t]] = [perm[t], perm[k]];
    }
  };
  visit(0, 0);
  return best / n;
}

/**
 * Optimal cost of the transportation LP by enumerating basic feasible solutions: every subset
 * of n+m−1 arcs whose equality system (one redundant row dropped) is non-singular gives a
 * basic solution; the feasible ones (all ≥ −1e-12) are the polytope's vertices and the LP
 * optimum is attained at one of them. Exponential: n·m ≤ 12 or so.
 */
export function lpOptimumByVertices(a: Float64Array, b: Float64Array, M: Float64Array): number {
  const n = a.length;
  const m = b.length;
  const k = n + m - 1;
  const rhs = [...a, ...b].slice(0, k); // drop the last column constraint (redundant)
  let best = Infinity;
  const chosen: number[] = [];
  const solve = (): void => {
    // Columns of the constraint matrix for the chosen arcs, rows 0..k-1.
    const A = Array.from({ length: k }, () => new Float64Array(k + 1));
    chosen.forEach((arc, c) => {
      const i = Math.trunc(arc / m);
      const j = arc % m;
      A[i][c] = 1;
      if (n + j < k) A[n + j][c] = 1;
    });
    for (let r = 0; r < k; r++) A[r][k] = rhs[r];
    // Gauss–Jordan with partial pivoting.
    for (let c = 0; c < k; c++) {
      let p = c;
      for (let r = c + 1; r < k; r++) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
      if (Math.abs(A[p][c]) < 1e-12) return; // singular: not a basis
      [A[c], A[p]] = [A[p], A[c]];
      for (let r = 0; r < k; r++) {
        if (r === c) continue;
        const f = A[r][c] / A[c][c];
        if (f !== 0) for (let cc = c; cc <= k; cc++) A[r][cc] -= f * A[c][cc];
      }
    }
    let cost = 0;
    for (let c = 0; c < k; c++) {
      const x = A[c][k] / A[c][c];
      if (x < -1e-12) return;
      cost += x * M[chosen[c]];
    }
    best = Math.min(best, cost);
  };
  const choose = (start: number): void => {
    if (chosen.length === k) {
      solve();
      return;
    }
    for (let arc = start; arc <= n * m - (k - chosen.length); arc++) {
      chosen.push(arc);
      choose(arc + 1);
      chosen.pop();
    }
  };
  choose(0);
  return best;
}
