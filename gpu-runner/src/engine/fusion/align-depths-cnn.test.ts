import { describe, expect, it } from 'vitest';
import type { VggArch } from '@clafusion/model-format/arch';
import { tapShapes } from '../nn/layers.ts';
import { alignDepths } from './align-depths.ts';
import { defaultFusionOptions } from './options.ts';
import type { FusionHooks } from './hooks.ts';
import { randomCnn, randomImages, referenceTaps } from '../../../test/support/reference-cnn.ts';

const t = 8;
const vgg = (config: (number | 'M')[]): VggArch => ({ family: 'vgg', input: [8, 8, 3], config, classes: 4, bias: false });
const A = randomCnn(vgg([6, 6, 'M', 8, 8, 8, 'M']), 1);
const B = randomCnn(vgg([5, 'M', 7, 'M']), 2);
const x = randomImages(A.arch as VggArch, t, 3);
const hooks: FusionHooks = {
  rows: t,
  record: async (model) => {
    const shapes = tapShapes(model.arch);
    return referenceTaps(model, x).map((d, k) => ({ data: Float32Array.from(d), shape: shapes[k] }));
  },
};

describe('alignDepths on CNNs', () => {
  it('reports one CKA cost matrix per max-pool group with layer labels, and the concatenated mapping', async () => {
    const aligned = await alignDepths(A, B, defaultFusionOptions('vgg'), hooks);
    expect(aligned.mapping).toEqual([1, 3]);
    expect(aligned.groups.map((g) => [g.name, g.rows, g.cols, g.mapping])).toEqual([
      ['group 1', ['features.0', 'features.2'], ['features.0'], [1]],
      ['group 2', ['features.5', 'features.7', 'features.9'], ['features.3'], [1]],
    ]);
    for (const g of aligned.groups) {
      for (const row of g.costMatrix) for (const c of row) expect(c).toBeGreaterThanOrEqual(-1e-12);
      expect(g.cost).toBeCloseTo(g.costMatrix[g.mapping[0] - 1][0], 12);
    }
    expect(aligned.n1.arch).toEqual(vgg([5, 5, 'M', 7, 7, 7, 'M']));
  });

  it('index cost uses the global hidden-layer indices inside every group (spec §3 item 2, §5.2: groups slice x = [1..m])', async () => {
    const aligned = await alignDepths(A, B, { ...defaultFusionOptions('vgg'), layerCost: 'index' }, hooks);
    // Group 2: A's convs 3, 4, 5 against B's conv 2 (1-based): (i − j)² = 1, 4, 9, not the local 0, 1, 4.
    expect(aligned.groups.map((g) => g.costMatrix)).toEqual([[[0], [1]], [[1], [4], [9]]]);
    expect(aligned.mapping).toEqual([1, 3]);
  });

  it('refuses to merge CNN layers, pointing to balance=add (the CLI says --balance add)', async () => {
    await expect(alignDepths(A, B, { ...defaultFusionOptions('vgg'), balance: 'merge' }, hooks)).rejects.toThrow(/MLPs only.*\(balance=add\)/);
  });
});
