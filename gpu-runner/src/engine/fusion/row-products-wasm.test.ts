import { describe, expect, it } from 'vitest';
import { rowProducts, rowProductsJs, rowProductsWithNorms, squaredNormsJs } from './row-products.ts';
import { wasmRowKernel } from './row-products-wasm.ts';
import { Rng } from '../rng.ts';
import { TapNeuronRows, channelRows } from './taps.ts';
import { CNN_GROUND_METRIC, groundMetric } from './ground-metric.ts';

/** Bitwise equality, so -0/+0 and NaN payloads would count as differences too. */
function sameBits(x: Float64Array, y: Float64Array): boolean {
  const a = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const b = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

describe('row products in WebAssembly SIMD', () => {
  const rng = new Rng(11);
  it('is available in Node, with the relaxed-SIMD multiply-add', () => {
    expect(wasmRowKernel()).not.toBeNull();
    expect(wasmRowKernel()!.panelsMadd).not.toBeNull();
  });
  it('gives the JavaScript bits with the multiply-add on float32 values of every magnitude (their products are exact)', () => {
    const magnitudes = [1e-45, 3e-42, 1e-38, 1e-20, 1, 7e3, 1e20, 3e38];
    const value = () => Math.fround((rng.uniform() < 0.5 ? -1 : 1) * magnitudes[Math.floor(rng.uniform() * magnitudes.length)] * (1 + rng.uniform()));
    const [n, m, p] = [9, 7, 2100];
    const A = { data: Float32Array.from({ length: n * p }, value), rows: n, cols: p };
    const B = { data: Float32Array.from({ length: m * p }, value), rows: m, cols: p };
    expect(sameBits(rowProducts(A, B), rowProductsJs(A, B))).toBe(true);
    expect(sameBits(rowProducts(A, A, true), rowProductsJs(A, A, true))).toBe(true);
  });
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
        const withNorms = rowProductsWithNorms(A, B);
        expect(sameBits(withNorms.products, rowProductsJs(A, B))).toBe(true);
        expect(sameBits(withNorms.normsA, squaredNormsJs(A))).toBe(true);
        expect(sameBits(withNorms.normsB, squaredNormsJs(B))).toBe(true);
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
  // A tap [t, C, S] read in place as channel rows [C, S·t]: runs of 1 (a dense
  // layer) and 3 (copied element by element), of 16, and runs that straddle
  // the 2048-long chunks (S = 1000) and rows not a multiple of 4 long.
  for (const [t, C, S] of [
    [7, 5, 1],
    [9, 6, 3],
    [130, 9, 16],
    [5, 7, 1000],
    [3, 2, 2050],
    [300, 8, 16],
    [40, 12, 64],
  ]) {
    it(`reads a tap's channel rows in place with the bits of their copy (t=${t}, C=${C}, S=${S})`, () => {
      const tap = { data: Float32Array.from({ length: t * C * S }, () => rng.normal()), shape: [C, S] };
      const other = { data: Float32Array.from({ length: t * (C + 2) * S }, () => rng.normal()), shape: [C + 2, S] };
      const inPlace = new TapNeuronRows(tap, t).matrix();
      const otherInPlace = new TapNeuronRows(other, t).matrix();
      const copy = { data: channelRows(tap, t), rows: C, cols: S * t };
      const otherCopy = { data: channelRows(other, t), rows: C + 2, cols: S * t };
      expect(sameBits(rowProducts(inPlace, otherInPlace), rowProductsJs(copy, otherCopy))).toBe(true);
      expect(sameBits(rowProducts(inPlace, inPlace, true), rowProductsJs(copy, copy, true))).toBe(true);
      expect(sameBits(rowProductsJs(inPlace, otherInPlace), rowProductsJs(copy, otherCopy))).toBe(true);
      const withNorms = rowProductsWithNorms(inPlace, otherInPlace);
      expect(sameBits(withNorms.products, rowProductsJs(copy, otherCopy))).toBe(true);
      expect(sameBits(withNorms.normsA, squaredNormsJs(copy))).toBe(true);
      expect(sameBits(withNorms.normsB, squaredNormsJs(otherCopy))).toBe(true);
      const M = groundMetric(inPlace, C, otherInPlace, C + 2, S * t, t, CNN_GROUND_METRIC);
      const M2 = groundMetric(copy.data, C, otherCopy.data, C + 2, S * t, t, CNN_GROUND_METRIC);
      expect(sameBits(M.data, M2.data)).toBe(true);
    });
  }
  it('gives the JavaScript bits when one side is all zeros (skipped products), also with -0 and with a non-finite other side', () => {
    const t = 9, C = 8, S = 16;
    const tap = { data: Float32Array.from({ length: t * C * S }, () => rng.normal()), shape: [C, S] };
    const zeros = { data: new Float32Array(t * (C - 4) * S).map((_, i) => (i % 3 === 0 ? -0 : 0)), shape: [C - 4, S] };
    const x = new TapNeuronRows(tap, t).matrix();
    const z = new TapNeuronRows(zeros, t).matrix();
    const xCopy = { data: channelRows(tap, t), rows: C, cols: S * t };
    const zCopy = { data: channelRows(zeros, t), rows: C - 4, cols: S * t };
    for (const [A, B, Ac, Bc] of [[x, z, xCopy, zCopy], [z, x, zCopy, xCopy]] as const) {
      const r = rowProductsWithNorms(A, B);
      expect(sameBits(r.products, rowProductsJs(Ac, Bc))).toBe(true);
      expect(sameBits(r.normsA, squaredNormsJs(Ac))).toBe(true);
      expect(sameBits(r.normsB, squaredNormsJs(Bc))).toBe(true);
    }
    tap.data[5] = Infinity;
    const r = rowProductsWithNorms(x, z);
    expect(sameBits(r.products, rowProductsJs({ ...xCopy, data: channelRows(tap, t) }, zCopy))).toBe(true);
    expect(r.products.some(Number.isNaN)).toBe(true);
  });
});
