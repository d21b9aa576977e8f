import { describe, expect, it } from 'vitest';
import type { Model, ResNetArch } from '@clafusion/model-format/arch';
import { tapShapes } from '../nn/layers.ts';
import { fuseMany } from './fuse-many.ts';
import { defaultFusionOptions } from './options.ts';
import type { FusionHooks } from './hooks.ts';
import { maxAbsDiff } from '../../../test/support/reference-mlp.ts';
import { randomCnn, randomImages, referenceTaps } from '../../../test/support/reference-cnn.ts';
import { permuteChannels } from '../../../test/support/permute-cnn.ts';

const t = 10;
const resnet = (blocks: number[], extra: Partial<ResNetArch> = {}): ResNetArch => ({
  family: 'resnet',
  input: [6, 6, 3],
  blocks,
  widths: [4, 6],
  classes: 3,
  bias: true,
  batchnorm: true,
  ...extra,
});
const x = randomImages(resnet([1, 1]), t, 1);
const hooks: FusionHooks = {
  rows: t,
  record: async (model: Model) => {
    const shapes = tapShapes(model.arch);
    return referenceTaps(model, x).map((d, k) => ({ data: Float32Array.from(d), shape: shapes[k] }));
  },
};

describe('fusing K CNNs (spec §8)', () => {
  it('aligns every member to the deepest model and averages the K parameter lists, BatchNorm vectors included', async () => {
    const deep = randomCnn(resnet([3, 2]), 2);
    const models = [randomCnn(resnet([2, 1]), 3), deep, permuteChannels(deep, 4)];
    const many = await fuseMany(models, defaultFusionOptions('resnet'), hooks);
    expect(many.anchor).toBe(1);
    expect(many.fused.arch).toEqual(deep.arch);
    expect(many.members.map((m) => m.mapping)).toEqual([[1, 2, 3, 6, 7, 8, 9, 10], null]);
    expect(many.members[0].alignment.map((g) => g.mapping)).toEqual([[1, 3], [1]]);
    // The permuted copy of the anchor comes back in the anchor's basis, so the
    // mean is (2·anchor + aligned B′)/3: the two-model fusion weighted 1:2.
    const two = await fuseMany([models[0], deep], { ...defaultFusionOptions('resnet'), weights: [1, 2] }, hooks);
    for (const [name, tensor] of many.fused.params) {
      const expected = two.fused.params.get(name)!.data;
      expect(maxAbsDiff(tensor.data, expected), name).toBeLessThan(1e-5);
    }
  });
});
