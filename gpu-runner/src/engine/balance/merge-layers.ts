/**
 * Balancing by merging layers (docs/algorithm.md §6.2, MLP only): the deeper model
 * A becomes A_m with B's depth. Every unmatched A layer is folded into the
 * next matched layer; its ReLU is replaced by a fixed diagonal D estimated
 * from its pre-activations on the calibration samples.
 *
 * Beyond the official code, biases are folded too: the running map is affine,
 * x ↦ P x + q, so a folded layer updates (P, q) ← (D W P, D (W q + b)).
 */
import { type Model, type Params, layerBias, layerCount, layerWeight, makeModel, mlpBiasName, mlpWeightName } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { matmul, matvec } from '../linalg.ts';
import { validateMapping } from '../cla/dynamic-program.ts';

export type MergeEstimator = 'sum' | 'majority' | 'average';

/**
 * The ReLU approximation d_i of one layer from its pre-activations z
 * ([t, p] row-major), with the official tie rules: `sum` counts a zero sum as
 * active (≥ 0); `majority` and `average` count strictly positive values.
 */
export function reluApproximation(z: ArrayLike<number>, t: number, p: number, estimator: MergeEstimator): Float64Array {
  if (z.length !== t * p) throw new FusionError('SHAPE_MISMATCH', `pre-activations of length ${z.length} are not ${t}×${p}`);
  const d = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    if (estimator === 'sum') {
      let s = 0;
      for (let r = 0; r < t; r++) s += z[r * p + i];
      d[i] = s >= 0 ? 1 : 0;
    } else {
      let positive = 0;
      for (let r = 0; r < t; r++) if (z[r * p + i] > 0) positive++;
      const fraction = positive / t;
      d[i] = estimator === 'average' ? fraction : fraction >= 0.5 ? 1 : 0;
    }
  }
  return d;
}

/**
 * Builds A_m. `preActivations[l]` are A's recorded pre-activations of hidden
 * layer l (0-based), [t, width_l]; only the folded layers' are read.
 */
export function mergeLayers(
  A: Model,
  mapping: readonly number[],
  preActivations: readonly Float32Array[],
  t: number,
  estimator: MergeEstimator,
): Model {
  if (A.arch.family !== 'mlp') {
    throw new FusionError('UNSUPPORTED', `merging layers is defined for MLPs only (spec §6.2); balance the ${A.arch.family} by adding layers`, {
      field: 'balance',
    });
  }
  const m = layerCount(A.arch) - 1;
  const n = mapping.length;
  validateMapping(mapping, n, m);
  const dIn = layerWeight(A, 0).shape[1];
  const params: Params = new Map();
  const hidden: number[] = [];
  // P starts (and restarts after every emitted layer) as the identity; the
  // flag skips multiplying by it, which was the whole cost of merging
  // (a 400×784 by 784×784 product for the first MNIST layer).
  let pIsIdentity = true;
  let P: Float64Array = new Float64Array(0);
  let pCols = dIn; // P is [rows(P) × pCols], pCols = the width of the last emitted layer
  let pRows = dIn;
  let q: Float64Array = new Float64Array(dIn);
  let k = 0; // next B layer to match (0-based)
  let out = 0; // next output slot

  const applyLayer = (l: number, diag?: Float64Array) => {
    const W = layerWeight(A, l);
    const [o, i] = W.shape;
    if (i !== pRows) throw new FusionError('SHAPE_MISMATCH', `layer ${l + 1} of the deeper model does not chain`);
    const bias = layerBias(A, l);
    const newP = pIsIdentity ? Float64Array.from(W.data) : matmul(W.data, P, o, i, pCols);
    let newQ = matvec(W.data, q, o, i);
    if (bias) for (let r = 0; r < o; r++) newQ[r] += bias.data[r];
    if (diag) {
      for (let r = 0; r < o; r++) {
        for (let c = 0; c < pCols; c++) newP[r * pCols + c] *= diag[r];
        newQ[r] *= diag[r];
      }
    }
    P = newP;
    pIsIdentity = false;
    q = newQ;
    pRows = o;
  };

  const emit = () => {
    params.set(mlpWeightName(out), { shape: [pRows, pCols], data: Float32Array.from(P) });
    if (A.arch.bias) params.set(mlpBiasName(out), { shape: [pRows], data: Float32Array.from(q) });
    out++;
  };

  for (let l = 0; l <= m; l++) {
    const folded = l < m && (k >= n || l + 1 < mapping[k]);
    if (folded) {
      const z = preActivations[l];
      if (z === undefined) throw new FusionError('INVALID_ARGUMENT', `pre-activations of layer ${l + 1} are needed to merge it`);
      const width = layerWeight(A, l).shape[0];
      applyLayer(l, reluApproximation(z, t, width, estimator));
      continue;
    }
    applyLayer(l);
    emit();
    if (l < m) {
      hidden.push(pRows);
      k++;
    }
    pIsIdentity = true;
    pCols = pRows;
    q = new Float64Array(pRows);
  }
  return makeModel({ ...A.arch, hidden }, params);
}
