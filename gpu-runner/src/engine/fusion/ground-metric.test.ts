import { describe, expect, it } from 'vitest';
import { directSquaredDistances, groundMetric, MLP_GROUND_METRIC, CNN_GROUND_METRIC } from './ground-metric.ts';
import { Rng } from '../rng.ts';

function rows(n: number, d: number, seed: number) {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n * d }, () => rng.normal());
}

describe('ground metric (spec §7.4)', () => {
  const a = rows(5, 7, 1);
  const b = rows(4, 7, 2);
  const direct = groundMetric(a, 5, b, 4, 7, 7, MLP_GROUND_METRIC);

  it('is the plain Euclidean distance on the direct path', () => {
    let s = 0;
    for (let f = 0; f < 7; f++) s += (a[2 * 7 + f] - b[3 * 7 + f]) ** 2;
    expect(direct.data[2 * 4 + 3]).toBeCloseTo(Math.sqrt(s), 12);
  });

  it('scales the efficient expansion by 1/√t with dist-normalize', () => {
    const eff = groundMetric(a, 5, b, 4, 7, 7, CNN_GROUND_METRIC);
    eff.data.forEach((v, k) => expect(v).toBeCloseTo(direct.data[k] / Math.sqrt(7), 10));
  });

  it('applies the normalisations', () => {
    const log = groundMetric(a, 5, b, 4, 7, 7, { ...MLP_GROUND_METRIC, normalize: 'log' });
    log.data.forEach((v, k) => expect(v).toBeCloseTo(Math.log1p(direct.data[k]), 12));
    const max = groundMetric(a, 5, b, 4, 7, 7, { ...MLP_GROUND_METRIC, normalize: 'max' });
    expect(Math.max(...max.data)).toBeCloseTo(1, 12);
    const median = groundMetric(a, 5, b, 4, 7, 7, { ...MLP_GROUND_METRIC, normalize: 'median' });
    const sorted = [...median.data].sort((x, y) => x - y);
    expect(sorted[9]).toBeCloseTo(1, 12); // 20 entries: torch takes the lower middle one
    const squared = groundMetric(a, 5, b, 4, 7, 7, { ...MLP_GROUND_METRIC, squared: true });
    squared.data.forEach((v, k) => expect(v).toBeCloseTo(direct.data[k] ** 2, 10));
  });

  it('ignores dist-normalize on the direct path, as the official code does', () => {
    const withT = groundMetric(a, 5, b, 4, 7, 7, { ...MLP_GROUND_METRIC, distNormalize: true });
    const withoutT = groundMetric(a, 5, b, 4, 7, 7, { ...MLP_GROUND_METRIC, distNormalize: false });
    expect(Array.from(withT.data)).toEqual(Array.from(withoutT.data));
  });

  it('gives the M of the worked example (§7.8)', () => {
    const M = groundMetric(Float64Array.from([0, 1, 10, 11]), 4, Float64Array.from([0.5, 10.5]), 2, 1, 1, MLP_GROUND_METRIC);
    expect(Array.from(M.data)).toEqual([0.5, 10.5, 0.5, 9.5, 9.5, 0.5, 10.5, 0.5]);
  });

  it('is 1 − cosine similarity, clamped at 0, for the cosine metric', () => {
    const M = groundMetric(Float64Array.from([1, 0, 1, 1]), 2, Float64Array.from([2, 0, 0, 3]), 2, 2, 1, { ...MLP_GROUND_METRIC, metric: 'cosine' });
    [0, 1, 1 - Math.SQRT1_2, 1 - Math.SQRT1_2].forEach((v, k) => expect(M.data[k]).toBeCloseTo(v, 12));
  });

  it('names NaN inputs', () => {
    const bad = Float64Array.from(a);
    bad[3] = NaN;
    expect(() => groundMetric(bad, 5, b, 4, 7, 7, MLP_GROUND_METRIC)).toThrow(/NaN/);
  });
});

describe('direct squared distances in column blocks', () => {
  /** Pair by pair over whole rows, each pair's terms in increasing f: the sum the blocks must reproduce. */
  function pairByPair(a: Float32Array | Float64Array, n0: number, b: Float32Array | Float64Array, n1: number, d: number) {
    const out = new Float64Array(n0 * n1);
    for (let i = 0; i < n0; i++) {
      for (let j = 0; j < n1; j++) {
        let s = 0;
        for (let f = 0; f < d; f++) s += (a[i * d + f] - b[j * d + f]) ** 2;
        out[i * n1 + j] = s;
      }
    }
    return out;
  }

  it('gives the bits of the pair-by-pair sum, for float32 and float64 rows, whatever the block', () => {
    const [n0, n1, d] = [6, 5, 1037];
    const a64 = rows(n0, d, 3);
    const b64 = rows(n1, d, 4).map((v) => v * 1e-3 + 1e3);
    for (const [a, b] of [[a64, b64], [Float32Array.from(a64), Float32Array.from(b64)]] as const) {
      const want = pairByPair(a, n0, b, n1, d);
      for (const block of [1, 7, 512, d, 4096]) {
        const out = new Float64Array(n0 * n1).fill(Number.NaN);
        directSquaredDistances(a, n0, b, n1, d, out, block);
        expect(Array.from(out)).toEqual(Array.from(want));
      }
    }
  });
});
