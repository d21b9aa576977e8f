import { describe, expect, it } from 'vitest';
import { alignInputs, otFusion, type OtFusionOptions } from './otfusion.ts';
import { MLP_GROUND_METRIC } from './ground-metric.ts';
import { fusedModel, fusionLayers, neuronRows } from './model-layers.ts';
import { maxAbsDiff, randomInputs, randomMlp, referenceForward } from '../../../test/support/reference-mlp.ts';
import { permuteHidden } from '../../../test/support/permute-mlp.ts';
import { tensor32 } from '@clafusion/model-format/tensor';

const options: OtFusionOptions = {
  alignment: 'activations',
  groundMetric: MLP_GROUND_METRIC,
  solver: { kind: 'exact' },
  correction: true,
  pastCorrection: true,
  weightN1: 0.5,
  outputLayer: 'align',
  handleSkips: false,
  samples: 1,
};

describe('OTFusion layer loop (spec §7.2)', () => {
  it('reproduces the worked example of §7.8 to float32 precision', () => {
    const W0 = tensor32([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const W1 = tensor32([2, 2], [0, 0, 10, 10]);
    const [r] = otFusion(
      {
        layers0: [{ name: 'fc1.weight', weight: W0 }],
        layers1: [{ name: 'fc1.weight', weight: W1 }],
        acts0: [{ data: Float64Array.from([0, 1, 10, 11]), width: 4, features: 1 }],
        acts1: [{ data: Float64Array.from([0.5, 10.5]), width: 2, features: 1 }],
      },
      options,
    );
    expect(Array.from(r.transport!)).toEqual([0.49999988079071045, 0, 0.49999988079071045, 0, 0, 0.49999988079071045, 0, 0.49999988079071045]);
    const expectY = [1.9999995, 2.9999993, 5.9999986, 6.999998];
    expectY.forEach((v, k) => expect(Math.fround(r.aligned[k])).toBeCloseTo(v, 5));
    const expectF = [0.99999976, 1.4999996, 7.999999, 8.499999];
    expectF.forEach((v, k) => expect(r.fused!.data[k]).toBeCloseTo(v, 5));
    expect(r.fused!.data[0]).toBe(Math.fround(0.99999976));
  });

  it('aligns the inputs of a conv weight with the bits of the dense sum in increasing input channel', () => {
    const [o, C0, C1, S] = [5, 7, 4, 9];
    let seed = 3;
    const next = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const W = tensor32([o, C0, 3, 3], Array.from({ length: o * C0 * S }, next));
    // A sparse map with a column of several entries, an empty column and negative zeros.
    const T = new Float64Array(C0 * C1);
    [[0, 0, 0.25], [1, 2, 1], [3, 0, 0.5], [4, 1, -0.75], [6, 0, 1e-8], [5, 1, 0.125]].forEach(([i, j, v]) => (T[i * C1 + j] = v));
    T[2 * C1 + 3] = -0;
    const out = alignInputs(W, { T, rows: C0, cols: C1 }, 'conv.weight');
    const expected = new Float64Array(o * C1 * S);
    for (let r = 0; r < o; r++)
      for (let i = 0; i < C0; i++)
        for (let j = 0; j < C1; j++) {
          if (T[i * C1 + j] === 0) continue;
          for (let s = 0; s < S; s++) expected[(r * C1 + j) * S + s] += W.data[(r * C0 + i) * S + s] * T[i * C1 + j];
        }
    expect(Array.from(out).map((v) => Object.is(v, -0) ? '-0' : v)).toEqual(Array.from(expected).map((v) => Object.is(v, -0) ? '-0' : v));
  });

  it('lets go of each layer\'s neuron rows after using them when asked, with the same results', () => {
    const arch = { family: 'mlp' as const, input: [6], hidden: [7, 5], classes: 3, bias: true };
    const N1 = randomMlp(arch, 31);
    const N0 = randomMlp(arch, 32);
    const t = 20;
    const x = randomInputs(t, 6, 33);
    const taps0 = referenceForward(N0, x, t).pre.map((p) => Float32Array.from(p));
    const taps1 = referenceForward(N1, x, t).pre.map((p) => Float32Array.from(p));
    const kept = otFusion({ layers0: fusionLayers(N0), layers1: fusionLayers(N1), acts0: neuronRows(taps0, t), acts1: neuronRows(taps1, t) }, { ...options, samples: t });
    const acts0 = neuronRows(taps0, t);
    const acts1 = neuronRows(taps1, t);
    const released: string[] = [];
    const results = otFusion(
      {
        layers0: fusionLayers(N0),
        layers1: fusionLayers(N1),
        acts0,
        acts1,
        releaseActivations: true,
        onLayer: (l) => {
          // Layer l's rows are gone once it is done, later layers' are not.
          expect(() => acts0[l].data).toThrow(/released/);
          expect(() => acts1[l].data).toThrow(/released/);
          if (l + 1 < acts0.length) expect(acts0[l + 1].data.length).toBeGreaterThan(0);
          released.push(String(l));
        },
      },
      { ...options, samples: t },
    );
    expect(released).toEqual(['0', '1', '2']);
    results.forEach((r, l) => expect(Array.from(r.fused!.data)).toEqual(Array.from(kept[l].fused!.data)));
  });

  for (const bias of [false, true]) {
    it(`recovers a permuted copy of the same network (bias ${bias})`, () => {
      const arch = { family: 'mlp' as const, input: [6], hidden: [7, 5], classes: 3, bias };
      const N1 = randomMlp(arch, 21);
      const N0 = permuteHidden(N1, 22);
      const t = 30;
      const x = randomInputs(t, 6, 23);
      const taps0 = referenceForward(N0, x, t).pre.map((p) => Float32Array.from(p));
      const taps1 = referenceForward(N1, x, t).pre.map((p) => Float32Array.from(p));
      const results = otFusion(
        { layers0: fusionLayers(N0), layers1: fusionLayers(N1), acts0: neuronRows(taps0, t), acts1: neuronRows(taps1, t) },
        { ...options, samples: t },
      );
      const fused = fusedModel(N1, results);
      // T̃ is a permutation scaled by 1/(1 + n·1e-7): every weight comes back to ~1e-6.
      for (const [name, tensor] of N1.params) {
        expect(maxAbsDiff(fused.params.get(name)!.data, tensor.data)).toBeLessThan(1e-5);
      }
      expect(maxAbsDiff(referenceForward(fused, x, t).logits, referenceForward(N1, x, t).logits)).toBeLessThan(1e-4);
    });
  }

  it('weights the models by ensemble step and skips OT on the output layer when asked', () => {
    const arch = { family: 'mlp' as const, input: [4], hidden: [3], classes: 2, bias: true };
    const N0 = randomMlp(arch, 1);
    const N1 = randomMlp(arch, 2);
    const results = otFusion(
      { layers0: fusionLayers(N0), layers1: fusionLayers(N1) },
      { ...options, alignment: 'weights', weightN1: 0.25, outputLayer: 'average' },
    );
    const out = results[1];
    expect(out.transport).toBeNull();
    // The output layer's inputs are aligned with the hidden layer's map, then averaged 0.75/0.25.
    const T = results[0].transport!;
    const W0 = N0.params.get('fc2.weight')!.data;
    const W1 = N1.params.get('fc2.weight')!.data;
    for (let o = 0; o < 2; o++)
      for (let j = 0; j < 3; j++) {
        let y = 0;
        for (let i = 0; i < 3; i++) y += W0[o * 3 + i] * T[i * 3 + j];
        expect(out.fused!.data[o * 3 + j]).toBeCloseTo(0.75 * y + 0.25 * W1[o * 3 + j], 6);
      }
    const b0 = N0.params.get('fc2.bias')!.data;
    const b1 = N1.params.get('fc2.bias')!.data;
    for (let o = 0; o < 2; o++) expect(out.fusedBias!.data[o]).toBeCloseTo(0.75 * b0[o] + 0.25 * b1[o], 6);
  });

  it('fuses teacher–student widths with N1′s shapes', () => {
    const N0 = randomMlp({ family: 'mlp', input: [5], hidden: [8, 6], classes: 3, bias: false }, 4);
    const N1 = randomMlp({ family: 'mlp', input: [5], hidden: [4, 3], classes: 3, bias: false }, 5);
    const t = 20;
    const x = randomInputs(t, 5, 6);
    const results = otFusion(
      {
        layers0: fusionLayers(N0),
        layers1: fusionLayers(N1),
        acts0: neuronRows(referenceForward(N0, x, t).pre.map((p) => Float32Array.from(p)), t),
        acts1: neuronRows(referenceForward(N1, x, t).pre.map((p) => Float32Array.from(p)), t),
      },
      { ...options, samples: t },
    );
    expect(results.map((r) => [r.rows, r.cols])).toEqual([
      [8, 4],
      [6, 3],
      [3, 3],
    ]);
    // Each column of a corrected map sums to ≈ 1.
    for (const r of results) {
      for (let j = 0; j < r.cols; j++) {
        let s = 0;
        for (let i = 0; i < r.rows; i++) s += r.transport![i * r.cols + j];
        expect(s).toBeCloseTo(1, 5);
      }
    }
    expect(fusedModel(N1, results).arch).toEqual(N1.arch);
  });

  it('rejects models with different numbers of layers', () => {
    const a = randomMlp({ family: 'mlp', input: [3], hidden: [2], classes: 2, bias: false }, 1);
    const b = randomMlp({ family: 'mlp', input: [3], hidden: [2, 2], classes: 2, bias: false }, 1);
    expect(() => otFusion({ layers0: fusionLayers(a), layers1: fusionLayers(b) }, { ...options, alignment: 'weights' })).toThrow(
      /same number of weight tensors/,
    );
  });
});
