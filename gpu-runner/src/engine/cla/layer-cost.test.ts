import { describe, expect, it } from 'vitest';
import { ckaCost, indexCost, neuronCountCost, neuronRowsOf, wassersteinCost } from './layer-cost.ts';
import { MLP_GROUND_METRIC } from '../fusion/ground-metric.ts';
import { emd2 } from '../ot/index.ts';
import { randomInputs } from '../../../test/support/reference-mlp.ts';

const t = 12;
const layer = (width: number, seed: number) => ({ data: randomInputs(t, width, seed), t, features: width, width });

describe('layer cost matrices (spec §3)', () => {
  it('squared neuron-count and index differences', () => {
    expect(Array.from(neuronCountCost([5, 4], [3]).data)).toEqual([4, 1]);
    expect(Array.from(indexCost(3, 2).data)).toEqual([0, 1, 1, 0, 4, 1]);
  });

  it('1 − CKA is 0 on the diagonal of identical layers and in [0, 1]', () => {
    const a = [layer(4, 1), layer(3, 2), layer(5, 3)];
    const C = ckaCost(a, a);
    for (let i = 0; i < 3; i++) expect(C.data[i * 3 + i]).toBeCloseTo(0, 12);
    for (const v of C.data) expect(v).toBeGreaterThanOrEqual(-1e-12);
  });

  it('Wasserstein cost is the exact EMD between the neuron point clouds', () => {
    const a = [layer(4, 1), layer(3, 2)];
    const b = [layer(2, 3)];
    const C = wassersteinCost(a, b, MLP_GROUND_METRIC);
    expect(C.rows).toBe(2);
    // Independent check for entry (2, 1): distances between neurons over the t samples.
    const ra = neuronRowsOf(a[1]);
    const rb = neuronRowsOf(b[0]);
    const M = new Float64Array(3 * 2);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 2; j++) {
        let s = 0;
        for (let k = 0; k < t; k++) s += (ra[i * t + k] - rb[j * t + k]) ** 2;
        M[i * 2 + j] = Math.sqrt(s);
      }
    expect(C.data[1]).toBeCloseTo(emd2(new Float64Array(3).fill(1 / 3), new Float64Array(2).fill(1 / 2), M), 12);
    expect(wassersteinCost([a[0]], [a[0]], MLP_GROUND_METRIC).data[0]).toBeCloseTo(0, 12);
  });
});
