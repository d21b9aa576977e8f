import { describe, expect, it } from 'vitest';
import { centeredGram, linearCka } from './cka.ts';
import { randomInputs } from '../../../test/support/reference-mlp.ts';

/** Feature-space CKA (§3 item 3): ‖ỸᵀX̃‖² / (‖X̃ᵀX̃‖ ‖ỸᵀỸ‖) with per-feature centring. */
function featureSpaceCka(x: Float32Array, y: Float32Array, t: number, p: number, q: number): number {
  const center = (m: Float32Array, d: number) => {
    const out = Float64Array.from(m);
    for (let c = 0; c < d; c++) {
      let mean = 0;
      for (let s = 0; s < t; s++) mean += out[s * d + c];
      mean /= t;
      for (let s = 0; s < t; s++) out[s * d + c] -= mean;
    }
    return out;
  };
  const X = center(x, p);
  const Y = center(y, q);
  const cross = (A: Float64Array, a: number, B: Float64Array, b: number) => {
    let sq = 0;
    for (let i = 0; i < a; i++)
      for (let j = 0; j < b; j++) {
        let s = 0;
        for (let r = 0; r < t; r++) s += A[r * a + i] * B[r * b + j];
        sq += s * s;
      }
    return sq;
  };
  return cross(Y, q, X, p) / (Math.sqrt(cross(X, p, X, p)) * Math.sqrt(cross(Y, q, Y, q)));
}

describe('linear CKA', () => {
  const t = 30;
  it('equals the feature-space form', () => {
    const x = randomInputs(t, 7, 1);
    const y = randomInputs(t, 5, 2);
    const gram = linearCka(centeredGram(x, t, 7), centeredGram(y, t, 5));
    expect(gram).toBeCloseTo(featureSpaceCka(x, y, t, 7, 5), 12);
  });

  it('is 1 for a representation and its orthogonal transform plus isotropic scaling', () => {
    const x = randomInputs(t, 2, 3);
    const c = Math.cos(0.7);
    const s = Math.sin(0.7);
    const y = new Float32Array(t * 2);
    for (let r = 0; r < t; r++) {
      y[r * 2] = 3 * (c * x[r * 2] - s * x[r * 2 + 1]) + 5;
      y[r * 2 + 1] = 3 * (s * x[r * 2] + c * x[r * 2 + 1]) - 1;
    }
    expect(linearCka(centeredGram(x, t, 2), centeredGram(y, t, 2))).toBeCloseTo(1, 6);
  });

  it('is symmetric and within [0, 1]', () => {
    const x = randomInputs(t, 4, 4);
    const y = randomInputs(t, 6, 5);
    const a = linearCka(centeredGram(x, t, 4), centeredGram(y, t, 6));
    const b = linearCka(centeredGram(y, t, 6), centeredGram(x, t, 4));
    expect(a).toBeCloseTo(b, 14);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThanOrEqual(1);
  });

  it('is NaN for a constant layer, as in the official code', () => {
    const x = randomInputs(t, 3, 6);
    const zero = new Float32Array(t * 3).fill(2);
    expect(linearCka(centeredGram(x, t, 3), centeredGram(zero, t, 3))).toBeNaN();
  });
});
