import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../runtime/backend.ts';
import { isFusionError } from '@clafusion/model-format/errors';
import { BN_EPS, type RunningStatUpdate, batchNorm } from './batchnorm.ts';

// x as NHWC [2, 1, 2, 2]: channel 0 holds 1, 3, -2, 6 and channel 1 holds 0.5, 0.5, 2, -1.
const X = [1, 0.5, 3, 0.5, -2, 2, 6, -1];
const CH = [
  [1, 3, -2, 6],
  [0.5, 0.5, 2, -1],
];
const GAMMA = [1.5, 0.5];
const BETA = [0.1, -0.2];
const RUNNING_MEAN = [0.2, -0.1];
const RUNNING_VAR = [1, 2];
const INDICES = { weight: 0, bias: 1, runningMean: 2, runningVar: 3 };

function params(): tf.Tensor[] {
  return [GAMMA, BETA, RUNNING_MEAN, RUNNING_VAR].map((v) => tf.tensor1d(v));
}

/** Hand computation with float64 numbers, channel by channel. */
function moments(values: number[]): { mean: number; biased: number; unbiased: number } {
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, biased: ss / values.length, unbiased: ss / (values.length - 1) };
}

function expectClose(actual: ArrayLike<number>, expected: number[], digits = 5): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, digits));
}

describe.each(['wasm', 'cpu'] as const)('batchNorm on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: backend } });
  });

  it('eval mode normalises with the running statistics and updates nothing', () => {
    tf.tidy(() => {
      const updates: RunningStatUpdate[] = [];
      const y = batchNorm(tf.tensor4d(X, [2, 1, 2, 2]), params(), INDICES, false, updates, 'bn');
      const expected = X.map((v, i) => {
        const c = i % 2;
        return ((v - RUNNING_MEAN[c]) / Math.sqrt(RUNNING_VAR[c] + BN_EPS)) * GAMMA[c] + BETA[c];
      });
      expectClose(y.dataSync(), expected);
      expect(updates).toEqual([]);
    });
  });

  it('training mode uses batch statistics and moves the running ones by momentum 0.1 with the unbiased variance', () => {
    tf.tidy(() => {
      const updates: RunningStatUpdate[] = [];
      const y = batchNorm(tf.tensor4d(X, [2, 1, 2, 2]), params(), INDICES, true, updates, 'bn');
      const m = CH.map(moments);
      const expected = X.map((v, i) => {
        const c = i % 2;
        return ((v - m[c].mean) / Math.sqrt(m[c].biased + BN_EPS)) * GAMMA[c] + BETA[c];
      });
      expectClose(y.dataSync(), expected);
      expect(updates.map((u) => u.index)).toEqual([2, 3]);
      expectClose(updates[0].value.dataSync(), [0, 1].map((c) => 0.9 * RUNNING_MEAN[c] + 0.1 * m[c].mean));
      expectClose(updates[1].value.dataSync(), [0, 1].map((c) => 0.9 * RUNNING_VAR[c] + 0.1 * m[c].unbiased));
    });
  });

  it('training mode back-propagates through the batch statistics (the analytic BatchNorm gradient)', () => {
    // Loss L = Σ y·r for a fixed r, so dL/dy = r. With x̂ = (x − μ)/σ,
    // dL/dx = γ/σ · (r − mean(r) − x̂·mean(r·x̂)) per channel, where σ² is the biased variance.
    const r = [0.3, -1, 2, 0.7, -0.4, 1.1, 0.9, -2];
    const dx = tf.tidy(() => {
      const p = params();
      const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(batchNorm(x, p, INDICES, true, [], 'bn'), tf.tensor4d(r, [2, 1, 2, 2]))));
      return Array.from(grad(tf.tensor4d(X, [2, 1, 2, 2])).dataSync());
    });
    const expected = new Array<number>(8);
    for (let c = 0; c < 2; c++) {
      const idx = [0, 1, 2, 3].map((k) => 2 * k + c);
      const { mean, biased } = moments(CH[c]);
      const sigma = Math.sqrt(biased + BN_EPS);
      const xhat = idx.map((i) => (X[i] - mean) / sigma);
      const rc = idx.map((i) => r[i]);
      const meanR = rc.reduce((a, v) => a + v, 0) / 4;
      const meanRX = rc.reduce((a, v, k) => a + v * xhat[k], 0) / 4;
      idx.forEach((i, k) => (expected[i] = (GAMMA[c] / sigma) * (rc[k] - meanR - xhat[k] * meanRX)));
    }
    expectClose(dx, expected, 4);
  });

  it('refuses training mode with a single value per channel, as PyTorch does', () => {
    const error = (() => {
      try {
        tf.tidy(() => batchNorm(tf.zeros([1, 1, 1, 2]), params(), INDICES, true, [], 'features.1'));
      } catch (e) {
        return e;
      }
    })();
    expect(isFusionError(error) && error.message).toMatch(/features\.1.*more than 1 value per channel/);
  });
});
