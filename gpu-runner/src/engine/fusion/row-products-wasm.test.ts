import { describe, expect, it } from 'vitest';
import { rowProducts, rowProductsJs } from './row-products.ts';
import { wasmRowKernel } from './row-products-wasm.ts';
import { Rng } from '../rng.ts';

/** Bitwise equality, so -0/+0 and NaN payloads would count as differences too. */
function sameBits(x: Float64Array, y: Float64Array): boolean {
  const a = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const b = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

describe('row products in WebAssembly SIMD', () => {
  const rng = new Rng(11);
  it('is available in Node', () => expect(wasmRowKernel()).not.toBeNull());
  // Sizes straddle the 4-row panels and the 2048-long chunks; float32 rows
  // (activations) and float64 rows (weights, whose products round).
  for (const [n, m, p] of [
    [1, 1, 1],
    [5, 7, 3],
    [8, 4, 2049],
    [9, 6, 4100],
    [13, 17, 6145],
  ]) {
    for (const f64 of [false, true]) {
      it(`gives the JavaScript kernel's bits for ${n}×${p} by ${m}×${p} (${f64 ? 'float64' : 'float32'})`, () => {
        const values = (k: number) => Array.from({ length: k }, () => rng.normal() * 3);
        const a = f64 ? Float64Array.from(values(n * p)) : Float32Array.from(values(n * p));
        const b = f64 ? Float64Array.from(values(m * p)) : Float32Array.from(values(m * p));
        const A = { data: a, rows: n, cols: p };
        const B = { data: b, rows: m, cols: p };
        expect(sameBits(rowProducts(A, B), rowProductsJs(A, B))).toBe(true);
        expect(sameBits(rowProducts(A, A, true), rowProductsJs(A, A, true))).toBe(true);
      });
    }
  }
  it('reuses its memory across calls of different sizes', () => {
    const big = Float32Array.from({ length: 20 * 5000 }, () => rng.normal());
    const small = Float32Array.from({ length: 3 * 10 }, () => rng.normal());
    const first = rowProducts({ data: small, rows: 3, cols: 10 }, { data: small, rows: 3, cols: 10 });
    rowProducts({ data: big, rows: 20, cols: 5000 }, { data: big, rows: 20, cols: 5000 }, true);
    expect(sameBits(rowProducts({ data: small, rows: 3, cols: 10 }, { data: small, rows: 3, cols: 10 }), first)).toBe(true);
  });
});
