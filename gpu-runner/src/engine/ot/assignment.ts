/**
 * An exact square assignment solver independent of the network simplex, and the
 * "replicate to lcm" construction of docs/algorithm.md §7.7 (Solver advice) built on it. Used as a
 * cross-check of `emd` on uniform problems; it returns *an* optimal plan, not POT's.
 */
import { FusionError } from '@clafusion/model-format/errors';

export interface AssignmentResult {
  /** rowToCol[i] = column assigned to row i. */
  rowToCol: Int32Array;
  /** Σ_i C[i, rowToCol[i]]. */
  cost: number;
}

/**
 * Minimum-cost perfect matching of a row-major n×n cost matrix: the O(n³) shortest augmenting
 * path method (Hungarian algorithm with row/column potentials, Jonker–Volgenant style Dijkstra
 * over columns). Rows are inserted one at a time; each insertion grows a shortest-path tree
 * over columns with reduced costs C[i,j] − u[i] − v[j] ≥ 0 until a free column is reached,
 * then augments along it.
 */
export function solveAssignment(C: Float64Array, n: number): AssignmentResult {
  if (!Number.isInteger(n) || n < 1) {
    throw new FusionError('INVALID_ARGUMENT', `assignment size must be a positive integer, got ${n}`, { argument: 'n' });
  }
  if (C.length !== n * n) {
    throw new FusionError('INVALID_ARGUMENT', `cost matrix has ${C.length} entries, expected ${n}x${n}`, { argument: 'C' });
  }
  for (let k = 0; k < C.length; k++) {
    if (!Number.isFinite(C[k])) {
      throw new FusionError('INVALID_ARGUMENT', `cost matrix entry ${k} is ${C[k]}`, { argument: 'C', index: k });
    }
  }
  // 1-based columns with a virtual column 0 that holds the row being inserted.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const colToRow = new Int32Array(n + 1); // 0 = free; rows are 1-based here
  const way = new Int32Array(n + 1);
  const minv = new Float64Array(n + 1);
  const used = new Uint8Array(n + 1);

  for (let i = 1; i <= n; i++) {
    colToRow[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = colToRow[j0];
      const rowBase = (i0 - 1) * n;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = C[rowBase + j - 1] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[colToRow[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (colToRow[j0] !== 0);
    // Augment along the alternating path back to the virtual column.
    do {
      const j1 = way[j0];
      colToRow[j0] = colToRow[j1];
      j0 = j1;
    } while (j0 !== 0);
  }

  const rowToCol = new Int32Array(n);
  for (let j = 1; j <= n; j++) rowToCol[colToRow[j] - 1] = j - 1;
  let cost = 0;
  for (let i = 0; i < n; i++) cost += C[i * n + rowToCol[i]];
  return { rowToCol, cost };
}

function gcd(x: number, y: number): number {
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/**
 * §7.7 Solver advice: the optimal plan for uniform marginals 1/n0, 1/n1 via an L×L assignment,
 * L = lcm(n0, n1). Row replica p of N0 neuron ⌊p/(L/n0)⌋ and column replica q of N1 neuron
 * ⌊q/(L/n1)⌋ cost M[i, j]; T[i, j] = (assigned replica pairs between i and j) / L. Every
 * vertex of the uniform transportation polytope arises this way, so the cost equals the exact
 * optimum. O(L³): meant for cross-checks and small layers.
 */
export function uniformPlanViaAssignment(n0: number, n1: number, M: Float64Array): { plan: Float64Array; cost: number } {
  for (const [name, v] of [['n0', n0], ['n1', n1]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new FusionError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${v}`, { argument: name });
    }
  }
  if (M.length !== n0 * n1) {
    throw new FusionError('INVALID_ARGUMENT', `M has ${M.length} entries, expected ${n0}x${n1}`, { argument: 'M' });
  }
  const L = (n0 / gcd(n0, n1)) * n1;
  const r0 = L / n0;
  const r1 = L / n1;
  const C = new Float64Array(L * L);
  for (let p = 0; p < L; p++) {
    const row = Math.trunc(p / r0) * n1;
    for (let q = 0; q < L; q++) C[p * L + q] = M[row + Math.trunc(q / r1)];
  }
  const { rowToCol } = solveAssignment(C, L);
  const plan = new Float64Array(n0 * n1);
  for (let p = 0; p < L; p++) plan[Math.trunc(p / r0) * n1 + Math.trunc(rowToCol[p] / r1)] += 1 / L;
  let cost = 0;
  for (let k = 0; k < plan.length; k++) cost += plan[k] * M[k];
  return { plan, cost };
}
