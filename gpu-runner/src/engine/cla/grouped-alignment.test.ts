import { describe, expect, it } from 'vitest';
import type { ResNetArch, VggArch } from '@clafusion/model-format/arch';
import { mat64 } from '@clafusion/model-format/tensor';
import { Rng } from '../rng.ts';
import { type UnitCost, type UnitMappingKind, alignByParts } from './grouped-alignment.ts';
import { alignmentStructure } from './structure.ts';

const vgg = (config: (number | 'M')[], fc?: number[]): VggArch => ({ family: 'vgg', input: [32, 32, 3], config, classes: 10, bias: false, ...(fc ? { fc } : {}) });
const VGG13_DOUB = vgg([64, 128, 'M', 256, 256, 'M', 512, 512, 'M', 1024, 1024, 'M', 1024, 512, 'M']);
const VGG11_HALF = vgg([64, 'M', 64, 'M', 128, 128, 'M', 256, 256, 'M', 256, 512, 'M']);
const R34: ResNetArch = { family: 'resnet', input: [32, 32, 3], blocks: [3, 4, 6, 3], widths: [64, 128, 256, 512], classes: 10, bias: false };
const R18: ResNetArch = { ...R34, blocks: [2, 2, 2, 2] };

/** Random costs: the constraint-forced mappings must not depend on them. */
function randomCosts(seed: number): UnitCost {
  const rng = new Rng(seed);
  return (a, b) => mat64(a.length, b.length, Float64Array.from({ length: a.length * b.length }, () => rng.uniform()));
}
const CLA: UnitMappingKind = { kind: 'cla', align: { startLayer: 2, fixedEndLayers: 1 } };

describe('CLA per max-pool group for VGG (spec §5.2)', () => {
  it('splits the convs at the pools', () => {
    expect(alignmentStructure(VGG13_DOUB).parts.map((p) => p.units.map((u) => u.label))).toEqual([
      ['features.0', 'features.2'],
      ['features.5', 'features.7'],
      ['features.10', 'features.12'],
      ['features.15', 'features.17'],
      ['features.20', 'features.22'],
    ]);
  });

  it('gives [1,3,5,6,7,8,9,10] for VGG13_doub ← VGG11_half whatever the costs', () => {
    for (const seed of [1, 2, 3]) {
      const result = alignByParts(VGG13_DOUB, VGG11_HALF, randomCosts(seed), CLA);
      expect(result.mapping).toEqual([1, 3, 5, 6, 7, 8, 9, 10]);
      expect(result.parts.map((p) => p.mapping)).toEqual([[1], [1], [1, 2], [1, 2], [1, 2]]);
      expect(result.parts.map((p) => [p.cost.rows, p.cost.cols])).toEqual([
        [2, 1],
        [2, 1],
        [2, 2],
        [2, 2],
        [2, 2],
      ]);
    }
  });

  it('aligns hidden FC layers with the plain DP, offset by the deeper model′s conv count (§5.1)', () => {
    const A = vgg([8, 'M', 8, 8, 'M'], [30, 20, 10, 5]);
    const B = vgg([8, 'M', 8, 'M'], [30, 5]);
    const neurons: UnitCost = (a, b, part) => {
      const widths = (arch: VggArch, units: typeof a) => units.map((u) => (part.name === 'fc' ? arch.fc![u.representative - arch.config.filter((e) => e !== 'M').length] : 8));
      const wa = widths(A, a);
      const wb = widths(B, b);
      return mat64(a.length, b.length, Float64Array.from(wa.flatMap((x) => wb.map((y) => (x - y) ** 2))));
    };
    const result = alignByParts(A, B, neurons, CLA);
    expect(result.parts.map((p) => p.name)).toEqual(['group 1', 'group 2', 'fc']);
    expect(result.mapping).toEqual([1, 2, 4, 7]);
  });

  it('draws random mappings per group and per stage, a(1) = 1 in each, reproducibly from the seed', () => {
    const run = (seed: number) => {
      const rng = new Rng(seed);
      return alignByParts(R34, R18, randomCosts(0), { kind: 'random', random: () => rng.uniform() });
    };
    const seen = new Set<string>();
    for (let seed = 0; seed < 8; seed++) {
      const a = run(seed);
      expect(run(seed)).toEqual(a);
      a.parts.forEach((p) => {
        expect(p.mapping[0]).toBe(1);
        expect(p.mapping[1]).toBeGreaterThan(1);
      });
      expect(a.mapping).toHaveLength(20);
      seen.add(a.mapping.join());
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('checks an explicit per-layer mapping against the groups', () => {
    const ok = alignByParts(VGG13_DOUB, VGG11_HALF, randomCosts(0), { kind: 'explicit', mapping: [2, 4, 5, 6, 7, 8, 9, 10] });
    expect(ok.parts.map((p) => p.mapping)).toEqual([[2], [2], [1, 2], [1, 2], [1, 2]]);
    expect(() => alignByParts(VGG13_DOUB, VGG11_HALF, randomCosts(0), { kind: 'explicit', mapping: [1, 2, 5, 6, 7, 8, 9, 10] })).toThrow(
      /mapping\[2\] = 2: features\.3 of the shallower model must map onto a layer in group 2/,
    );
  });

  it('rejects models with different pool groups, naming them', () => {
    expect(() => alignByParts(VGG13_DOUB, vgg([64, 'M', 64, 'M', 128]), randomCosts(0), CLA)).toThrow(/different max-pool groups/);
  });
});

describe('CLA per stage over blocks for ResNet (spec §5.3)', () => {
  it('represents each block by its last layer', () => {
    const stages = alignmentStructure(R18).parts;
    expect(stages.map((s) => s.units.map((u) => [u.label, u.layers, u.representative]))).toEqual([
      [
        ['layer1.0', [1, 2], 2],
        ['layer1.1', [3, 4], 4],
      ],
      [
        ['layer2.0', [5, 6, 7], 7],
        ['layer2.1', [8, 9], 9],
      ],
      [
        ['layer3.0', [10, 11, 12], 12],
        ['layer3.1', [13, 14], 14],
      ],
      [
        ['layer4.0', [15, 16, 17], 17],
        ['layer4.1', [18, 19], 19],
      ],
    ]);
  });

  it('gives the verified ResNet34 ← ResNet18 mapping with s = 2, f = 1 whatever the costs', () => {
    for (const seed of [1, 2]) {
      const result = alignByParts(R34, R18, randomCosts(seed), CLA);
      expect(result.mapping).toEqual([1, 2, 3, 6, 7, 8, 9, 10, 15, 16, 17, 18, 19, 28, 29, 30, 31, 32, 35, 36]);
      expect(result.parts.map((p) => p.mapping)).toEqual([
        [1, 3],
        [1, 4],
        [1, 6],
        [1, 3],
      ]);
      expect(result.parts[1].rows).toEqual(['layer2.0', 'layer2.1', 'layer2.2', 'layer2.3']);
    }
  });

  it('gives the §5.3 chain mapping', () => {
    expect(alignByParts(R34, R18, randomCosts(0), { kind: 'chain' }).mapping).toEqual([
      1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 17, 18, 19, 20, 21, 30, 31, 32, 33, 34,
    ]);
  });

  it('refuses to match a down-sampling block to an identity block (s = 1), naming the stage', () => {
    // Costs that make the DP without the first-layer constraint skip A's first block of each stage.
    const cost: UnitCost = (a, b) => mat64(a.length, b.length, Float64Array.from({ length: a.length * b.length }, (_, k) => (Math.floor(k / b.length) === 0 ? 9 : 0)));
    expect(() => alignByParts(R34, R18, cost, { kind: 'cla', align: { startLayer: 1, fixedEndLayers: 1 } })).toThrow(
      /stage 2: block layer2\.0 \(3 layers\) was matched to layer2\.1 \(2 layers\)/,
    );
  });

  it('accepts explicit block-consistent mappings and rejects the others', () => {
    const chain = [1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 17, 18, 19, 20, 21, 30, 31, 32, 33, 34];
    expect(alignByParts(R34, R18, randomCosts(0), { kind: 'explicit', mapping: chain }).parts.map((p) => p.mapping)).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
    const split = [...chain];
    split[4] = 6; // layer1.1.conv2 → layer1.2.conv1: not one block
    expect(() => alignByParts(R34, R18, randomCosts(0), { kind: 'explicit', mapping: split })).toThrow(/layer1\.1 of the shallower model must map onto all layers of one block/);
    const stem = chain.map((v) => v + 1);
    expect(() => alignByParts(R34, R18, randomCosts(0), { kind: 'explicit', mapping: stem })).toThrow(/stem is matched to the stem/);
  });
});
