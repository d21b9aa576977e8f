/**
 * One layer's transport plan and its correction (docs/algorithm.md §7.2 steps
 * 4–6), with the official float32 rounding reproduced: POT solves in float64,
 * the plan is cast to float32, and the correction divides each column by its
 * float32 mass plus 1e-7.
 */
import { FusionError } from '@clafusion/model-format/errors';
import type { Mat64 } from '@clafusion/model-format/tensor';
import { emd, sinkhorn } from '../ot/index.ts';

export type OtSolver = { kind: 'exact' } | { kind: 'sinkhorn'; reg: number };

const f32 = Math.fround;
const EPS32 = f32(1e-7);

/** The uniform-marginal plan between the rows and columns of M, cast to float32. */
export function transportPlan(M: Mat64, solver: OtSolver): Float64Array {
  const mu = new Float64Array(M.rows).fill(1 / M.rows);
  const nu = new Float64Array(M.cols).fill(1 / M.cols);
  const plan = solver.kind === 'exact' ? emd(mu, nu, M.data).plan : sinkhorn(mu, nu, M.data, solver.reg).plan;
  let total = 0;
  for (let i = 0; i < plan.length; i++) total += plan[i];
  // The official code asserts this after the solve.
  if (solver.kind === 'exact' && Math.abs(total - 1) > 1e-7) {
    throw new FusionError('SOLVER_FAILED', `transport plan has total mass ${total}, expected 1`);
  }
  const out = new Float64Array(plan.length);
  for (let i = 0; i < plan.length; i++) out[i] = f32(plan[i]);
  return out;
}

/**
 * Activation-based correction: T̃_ij = T_ij · (1 / (β_j + 1e-7)) with β the
 * float32 column sums, so each column of T̃ sums to ≈ 1 and T̃ᵀ·rows is a
 * barycentric average of N0's neurons per N1 neuron.
 */
export function correctByColumnMass(T: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(T.length);
  for (let j = 0; j < cols; j++) {
    let beta = 0;
    for (let i = 0; i < rows; i++) beta += T[i * cols + j];
    const factor = f32(1 / f32(f32(beta) + EPS32));
    for (let i = 0; i < rows; i++) out[i * cols + j] = f32(T[i * cols + j] * factor);
  }
  return out;
}

/** Weight-based correction (§7.5): divide by the nominal ν_j = 1/o1 plus 1e-7. */
export function correctByNominalMass(T: Float64Array, cols: number): Float64Array {
  const factor = f32(1 / f32(f32(1 / cols) + EPS32));
  const out = new Float64Array(T.length);
  for (let i = 0; i < T.length; i++) out[i] = f32(T[i] * factor);
  return out;
}
