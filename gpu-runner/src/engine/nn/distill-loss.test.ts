import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { distillationLoss } from './distill-loss.ts';
import { initBackend } from '../../runtime/backend.ts';

/** The loss by hand in float64, straight from the formula of §10.2. */
function handLoss(s: number[][], t: number[][], y: number[], alpha: number, T: number): number {
  const logSoftmax = (v: number[]) => {
    const m = Math.max(...v);
    const lse = m + Math.log(v.reduce((acc, x) => acc + Math.exp(x - m), 0));
    return v.map((x) => x - lse);
  };
  let kl = 0;
  let ce = 0;
  const C = s[0].length;
  s.forEach((row, i) => {
    const lps = logSoftmax(row.map((v) => v / T));
    const lpt = logSoftmax(t[i].map((v) => v / T));
    for (let c = 0; c < C; c++) kl += Math.exp(lpt[c]) * (lpt[c] - lps[c]);
    ce -= logSoftmax(row)[y[i]];
  });
  kl /= s.length * C; // KLDivLoss(reduction="mean"): over every element
  ce /= s.length;
  return alpha * T * T * kl + (1 - alpha) * ce;
}

describe('knowledge-distillation loss (spec §10.2)', () => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'cpu' } });
  });

  const s = [
    [1.0, -0.5, 2.0],
    [0.3, 0.2, -1.0],
  ];
  const t = [
    [0.5, 0.1, 3.0],
    [2.0, -1.0, 0.0],
  ];
  const y = [2, 0];

  for (const [alpha, T] of [
    [0.5, 4],
    [0.95, 20],
    [0.05, 1],
    [0, 8],
    [1, 10],
  ]) {
    it(`matches the formula by hand for α=${alpha}, T=${T}`, () => {
      const loss = tf.tidy(() =>
        distillationLoss(tf.tensor2d(s), tf.tensor2d(t), tf.oneHot(tf.tensor1d(y, 'int32'), 3).toFloat() as tf.Tensor2D, {
          alpha,
          temperature: T,
        }).dataSync()[0],
      );
      // float32 against float64; the T² factor amplifies rounding of the KL term.
      const want = handLoss(s, t, y, alpha, T);
      expect(Math.abs(loss - want) / Math.abs(want)).toBeLessThan(1e-4);
    });
  }

  it('is a plain cross-entropy at α = 0 and zero KL when student equals teacher', () => {
    const same = tf.tidy(() =>
      distillationLoss(tf.tensor2d(t), tf.tensor2d(t), tf.oneHot(tf.tensor1d(y, 'int32'), 3).toFloat() as tf.Tensor2D, {
        alpha: 1,
        temperature: 4,
      }).dataSync()[0],
    );
    expect(Math.abs(same)).toBeLessThan(1e-6);
  });
});
