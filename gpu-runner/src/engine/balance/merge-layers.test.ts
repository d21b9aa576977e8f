import { describe, expect, it } from 'vitest';
import { mergeLayers, reluApproximation } from './merge-layers.ts';
import { matmul } from '../linalg.ts';
import { maxAbsDiff, randomInputs, randomMlp, referenceForward } from '../../../test/support/reference-mlp.ts';
import { type Model, layerCount, mlpBiasName, mlpWeightName } from '@clafusion/model-format/arch';

describe('ReLU approximation estimators (spec §6.2 table)', () => {
  // t = 4 samples × 3 neurons, stored [t, p].
  const z = [1, 0, -1, -2, 0, -1, 3, -1, 0, -1, 2, 0];
  it('applies the official tie rules', () => {
    expect([...reluApproximation(z, 4, 3, 'sum')]).toEqual([1, 1, 0]);
    expect([...reluApproximation(z, 4, 3, 'majority')]).toEqual([1, 0, 0]);
    expect([...reluApproximation(z, 4, 3, 'average')]).toEqual([0.5, 0.25, 0]);
  });
});

/** A forward pass in which the folded layers' ReLU is replaced by diag(d). */
function linearisedForward(A: Model, x: Float32Array, N: number, folded: Map<number, Float64Array>): Float64Array {
  let h = Float64Array.from(x);
  const L = layerCount(A.arch);
  for (let l = 0; l < L; l++) {
    const W = A.params.get(mlpWeightName(l))!;
    const b = A.params.get(mlpBiasName(l));
    const [o, i] = W.shape;
    const z = new Float64Array(N * o);
    for (let s = 0; s < N; s++)
      for (let r = 0; r < o; r++) {
        let acc = b ? b.data[r] : 0;
        for (let c = 0; c < i; c++) acc += W.data[r * i + c] * h[s * i + c];
        z[s * o + r] = acc;
      }
    const d = folded.get(l);
    h = l === L - 1 ? z : d ? z.map((v, k) => v * d[k % o]) : z.map((v) => Math.max(0, v));
  }
  return h;
}

describe('merging layers (spec §6.2)', () => {
  const t = 40;
  for (const bias of [false, true]) {
    for (const estimator of ['sum', 'majority', 'average'] as const) {
      it(`computes A with folded ReLUs replaced by D (${estimator}, bias ${bias})`, () => {
        const A = randomMlp({ family: 'mlp', input: [10], hidden: [9, 8, 7, 6, 5], classes: 3, bias }, 11);
        const x = randomInputs(t, 10, 12);
        const pre = referenceForward(A, x, t).pre.map((p) => Float32Array.from(p));
        const mapping = [1, 2, 5];
        const Am = mergeLayers(A, mapping, pre, t, estimator);
        expect(Am.arch).toMatchObject({ hidden: [9, 8, 5] });
        const folded = new Map([
          [2, reluApproximation(pre[2], t, 7, estimator)],
          [3, reluApproximation(pre[3], t, 6, estimator)],
        ]);
        const expected = linearisedForward(A, x, t, folded);
        const got = referenceForward(Am, x, t).logits;
        expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
      });
    }
  }

  it('gives the closed form W5·D4·W4·D3·W3 for the spec example', () => {
    const A = randomMlp({ family: 'mlp', input: [6], hidden: [5, 5, 4, 3, 2], classes: 3, bias: false }, 5);
    const x = randomInputs(t, 6, 6);
    const pre = referenceForward(A, x, t).pre.map((p) => Float32Array.from(p));
    const Am = mergeLayers(A, [1, 2, 5], pre, t, 'sum');
    const W = (l: number) => A.params.get(mlpWeightName(l))!;
    const D = (l: number, p: number) => reluApproximation(pre[l], t, p, 'sum');
    const scaleRows = (M: Float64Array, d: Float64Array, cols: number) => M.map((v, k) => v * d[Math.floor(k / cols)]);
    const DW3 = scaleRows(Float64Array.from(W(2).data), D(2, 4), 5); // 4×5
    const DW4 = scaleRows(matmul(W(3).data, DW3, 3, 4, 5), D(3, 3), 5); // 3×5
    const merged = matmul(W(4).data, DW4, 2, 3, 5); // 2×5
    expect(maxAbsDiff(Am.params.get(mlpWeightName(2))!.data, merged)).toBeLessThan(1e-6);
    expect(Am.params.get(mlpWeightName(3))!.data).toEqual(W(5).data);
  });

  it('folds the layers after the last match into the classifier when f = 0', () => {
    const A = randomMlp({ family: 'mlp', input: [6], hidden: [5, 4, 3, 2], classes: 3, bias: true }, 8);
    const x = randomInputs(t, 6, 9);
    const pre = referenceForward(A, x, t).pre.map((p) => Float32Array.from(p));
    const Am = mergeLayers(A, [1, 2], pre, t, 'majority');
    expect(Am.arch).toMatchObject({ hidden: [5, 4] });
    const folded = new Map([
      [2, reluApproximation(pre[2], t, 3, 'majority')],
      [3, reluApproximation(pre[3], t, 2, 'majority')],
    ]);
    expect(maxAbsDiff(referenceForward(Am, x, t).logits, linearisedForward(A, x, t, folded))).toBeLessThan(1e-5);
  });
});
