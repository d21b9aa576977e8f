/**
 * Linear CKA between layer representations, as the official code computes it
 * (docs/algorithm.md §3 item 3): Gram matrices over the t calibration samples,
 * centred over samples (H K H), then the biased HSIC ratio
 *
 *   CKA(X, Y) = ⟨K_c, L_c⟩_F / (‖K_c‖_F · ‖L_c‖_F).
 *
 * A layer's centred Gram matrix is computed once and reused for every pair, so
 * an m×n cost matrix costs m+n Gram products, not 2mn.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { rowProducts } from '../fusion/row-products.ts';

/** A centred t×t Gram matrix with its Frobenius norm. */
export interface CenteredGram {
  t: number;
  data: Float64Array;
  norm: number;
}

/**
 * K = X Xᵀ for X = [t, p] (row-major, one row per sample), centred as
 * K_ij − m_i − m_j + μ (m = column means, μ = grand mean).
 */
export function centeredGram(x: ArrayLike<number>, t: number, p: number): CenteredGram {
  if (x.length !== t * p) {
    throw new FusionError('SHAPE_MISMATCH', `activation matrix of length ${x.length} is not ${t}×${p}`);
  }
  // The t×t product is the whole cost for conv layers (p = C·H·W up to 65536);
  // rowProducts blocks it and accumulates in float64.
  return centerGram(rowProducts({ data: x, rows: t, cols: p }, { data: x, rows: t, cols: p }, true), t);
}

/** Centres a symmetric t×t Gram matrix in place and returns it with its norm. */
export function centerGram(K: Float64Array, t: number): CenteredGram {
  const colMean = new Float64Array(t);
  let grand = 0;
  for (let i = 0; i < t; i++) {
    for (let j = 0; j < t; j++) colMean[j] += K[i * t + j];
  }
  for (let j = 0; j < t; j++) {
    grand += colMean[j];
    colMean[j] /= t;
  }
  grand /= t * t;
  let sq = 0;
  for (let i = 0; i < t; i++) {
    for (let j = 0; j < t; j++) {
      const v = K[i * t + j] - colMean[i] - colMean[j] + grand;
      K[i * t + j] = v;
      sq += v * v;
    }
  }
  return { t, data: K, norm: Math.sqrt(sq) };
}

/**
 * Linear CKA of two centred Grams. A constant layer has a zero Gram and gives
 * 0/0 = NaN, as in the official code; callers decide what to do with it.
 */
export function linearCka(a: CenteredGram, b: CenteredGram): number {
  if (a.t !== b.t) throw new FusionError('SHAPE_MISMATCH', `CKA needs the same samples: ${a.t} vs ${b.t}`);
  let dot = 0;
  for (let i = 0; i < a.data.length; i++) dot += a.data[i] * b.data[i];
  return dot / (a.norm * b.norm);
}
