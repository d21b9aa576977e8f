import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../runtime/backend.ts';
import { Rng } from '../rng.ts';
import { linear } from './linear.ts';

function randomMatrix(rng: Rng, rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, () => rng.normal());
}

describe.each(['wasm', 'cpu'] as const)('linear on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: backend } });
  });

  it('computes x·Wᵀ and the gradients dx = dy·W, dW = dyᵀ·x', () => {
    const [b, i, o] = [5, 7, 3];
    const rng = new Rng(1);
    const x = randomMatrix(rng, b, i);
    const w = randomMatrix(rng, o, i);
    const dy = randomMatrix(rng, b, o);
    const before = tf.memory().numTensors;
    const [y, dx, dw] = tf.tidy(() => {
      const xt = tf.tensor2d(x, [b, i]);
      const wt = tf.tensor2d(w, [o, i]);
      const r = tf.tensor2d(dy, [b, o]);
      // L = Σ r ⊙ linear(x, W), so ∂L/∂y = r.
      const g = tf.grads((xa: tf.Tensor, wa: tf.Tensor) => tf.sum(tf.mul(r, linear(xa as tf.Tensor2D, wa as tf.Tensor2D))));
      const [gx, gw] = g([xt, wt]);
      return [linear(xt, wt).dataSync(), gx.dataSync(), gw.dataSync()];
    });
    expect(tf.memory().numTensors).toBe(before);
    for (let s = 0; s < b; s++) {
      for (let k = 0; k < o; k++) {
        let acc = 0;
        for (let j = 0; j < i; j++) acc += x[s * i + j] * w[k * i + j];
        expect(y[s * o + k]).toBeCloseTo(acc, 5);
      }
      for (let j = 0; j < i; j++) {
        let acc = 0;
        for (let k = 0; k < o; k++) acc += dy[s * o + k] * w[k * i + j];
        expect(dx[s * i + j]).toBeCloseTo(acc, 5);
      }
    }
    for (let k = 0; k < o; k++) {
      for (let j = 0; j < i; j++) {
        let acc = 0;
        for (let s = 0; s < b; s++) acc += dy[s * o + k] * x[s * i + j];
        expect(dw[k * i + j]).toBeCloseTo(acc, 5);
      }
    }
  });
});
