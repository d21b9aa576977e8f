import { describe, expect, it } from 'vitest';
import { rowProducts } from './row-products.ts';
import { Rng } from '../rng.ts';

function naive(a: Float32Array, n: number, b: Float32Array, m: number, p: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let c = 0; c < p; c++) out[i * m + j] += a[i * p + c] * b[j * p + c];
  return out;
}

describe('row products A·Bᵀ', () => {
  const rng = new Rng(1);
  const rows = (n: number, p: number) => Float32Array.from({ length: n * p }, () => rng.normal());
  // Sizes straddle the 4×4 blocks and the 2048-long chunks of the shared dimension.
  for (const [n, m, p] of [
    [1, 1, 1],
    [5, 7, 3],
    [8, 4, 2049],
    [9, 6, 4100],
  ]) {
    it(`matches the plain triple loop for ${n}×${p} by ${m}×${p}`, () => {
      const a = rows(n, p);
      const b = rows(m, p);
      const P = rowProducts({ data: a, rows: n, cols: p }, { data: b, rows: m, cols: p });
      naive(a, n, b, m, p).forEach((v, k) => expect(P[k]).toBeCloseTo(v, 9));
      const G = rowProducts({ data: a, rows: n, cols: p }, { data: a, rows: n, cols: p }, true);
      naive(a, n, a, n, p).forEach((v, k) => expect(G[k]).toBeCloseTo(v, 9));
    });
  }
});
