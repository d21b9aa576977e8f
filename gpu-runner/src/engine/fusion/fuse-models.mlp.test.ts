/**
 * Pair and K-model orchestration on MLPs, with activations recorded by the
 * independent float64 reference forward pass.
 */
import { describe, expect, it } from 'vitest';
import { fusePair } from './fuse-pair.ts';
import { fuseMany } from './fuse-many.ts';
import { defaultFusionOptions } from './options.ts';
import type { FusionHooks } from './hooks.ts';
import type { MlpArch, Model } from '@clafusion/model-format/arch';
import { maxAbsDiff, randomInputs, randomMlp, referenceForward } from '../../../test/support/reference-mlp.ts';
import { permuteHidden } from '../../../test/support/permute-mlp.ts';

const t = 40;
const x = randomInputs(t, 12, 99);
const hooks: FusionHooks = {
  rows: t,
  record: async (model: Model) =>
    referenceForward(model, x, t).pre.map((p) => {
      const width = p.length / t;
      return { data: Float32Array.from(p), shape: [width] };
    }),
};
const deep = randomMlp({ family: 'mlp', input: [12], hidden: [10, 9, 8, 7, 6], classes: 4, bias: true }, 1);
const shallow = randomMlp({ family: 'mlp', input: [12], hidden: [10, 9, 6], classes: 4, bias: true }, 2);
const options = { ...defaultFusionOptions('mlp'), layerCost: 'cka' as const };

describe('fusePair orchestration', () => {
  it('puts the deeper model first and gives N1 its own weight (ensemble_step)', async () => {
    const r = await fusePair([shallow, deep], { ...options, weights: [0.2, 0.8] }, hooks);
    expect(r.deeper).toBe(1);
    expect(r.shallower).toBe(0);
    expect([r.n0, r.n1]).toEqual([1, 0]);
    expect(r.weightN1).toBeCloseTo(0.2, 12);
    expect(r.mapping).toHaveLength(3);
    expect(r.mapping![0]).toBe(1);
    expect(r.mapping![2]).toBe(5);
    // The fused model is B′: A's depth with B's widths (identities repeat the width before them).
    expect(r.depthAligned!.input).toBe(0);
    expect(r.fused.arch).toEqual(r.depthAligned!.model.arch);
    expect(r.fused.arch).toMatchObject({ hidden: [10, 9, 9, 9, 6] });
  });

  it('skips alignment for equal depths and keeps the second model as N1', async () => {
    const other = randomMlp({ family: 'mlp', input: [12], hidden: [10, 9, 6], classes: 4, bias: true }, 3);
    const r = await fusePair([shallow, other], options, hooks);
    expect(r.alignment).toEqual([]);
    expect(r.mapping).toBeNull();
    expect([r.n0, r.n1]).toEqual([0, 1]);
    expect(r.fused.arch).toEqual(other.arch);
  });
});

describe('fuseMany (spec §8)', () => {
  it('is unchanged by adding permuted copies of the members: [A, B, A′, B′] ≡ [A, B]', async () => {
    const two = await fuseMany([deep, shallow], options, hooks);
    const four = await fuseMany([deep, shallow, permuteHidden(deep, 5), permuteHidden(shallow, 6)], options, hooks);
    expect(four.anchor).toBe(0);
    expect(four.members.map((m) => m.mapping)).toEqual([two.members[0].mapping, null, two.members[0].mapping]);
    for (const [name, tensor] of two.fused.params) {
      expect(maxAbsDiff(four.fused.params.get(name)!.data, tensor.data)).toBeLessThan(1e-5);
    }
  });

  it('averages a permuted copy back into the anchor', async () => {
    const r = await fuseMany([deep, permuteHidden(deep, 9), permuteHidden(deep, 10)], options, hooks);
    for (const [name, tensor] of deep.params) expect(maxAbsDiff(r.fused.params.get(name)!.data, tensor.data)).toBeLessThan(1e-5);
  });

  it('anchors on the deepest model and refuses a shallower anchor or merging', async () => {
    const r = await fuseMany([shallow, deep, shallow], options, hooks);
    expect(r.anchor).toBe(1);
    await expect(fuseMany([shallow, deep], { ...options, anchor: 0 }, hooks)).rejects.toThrow(/anchor must be one of the deepest/);
    await expect(fuseMany([deep, shallow, shallow], { ...options, balance: 'merge' }, hooks)).rejects.toThrow(/exactly two models/);
  });

  it('weights the members when weights are given', async () => {
    const copy = permuteHidden(deep, 11);
    const other = randomMlp(deep.arch as MlpArch, 12);
    const weighted = await fuseMany([deep, other, copy], { ...options, fusion: 'average', weights: [1, 0, 1] }, hooks);
    // Plain averaging does not align: w = (deep + 0·other + copy)/2 element-wise.
    const w = 'fc1.weight';
    const expected = deep.params.get(w)!.data.map((v, k) => (v + copy.params.get(w)!.data[k]) / 2);
    expect(maxAbsDiff(weighted.fused.params.get(w)!.data, expected)).toBeLessThan(1e-6);
  });
});
