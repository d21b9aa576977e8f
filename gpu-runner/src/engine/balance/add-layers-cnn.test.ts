import { describe, expect, it } from 'vitest';
import { type ResNetArch, type VggArch, layerSpecs } from '@clafusion/model-format/arch';
import { addLayers, addLayersPlan, depthAlignedArch } from './add-layers.ts';
import { alignByParts } from '../cla/grouped-alignment.ts';
import { indexCost } from '../cla/layer-cost.ts';
import { maxAbsDiff } from '../../../test/support/reference-mlp.ts';
import { randomCnn, randomImages, referenceLogits, referenceTaps } from '../../../test/support/reference-cnn.ts';

function vgg(config: (number | 'M')[], extra: Partial<VggArch> = {}): VggArch {
  const arch: VggArch = { family: 'vgg', input: [32, 32, 3], config, classes: 10, bias: false, ...extra };
  if (!arch.batchnorm) delete arch.batchnorm; // parseArch's form: the flag only when set
  return arch;
}
const VGG13_DOUB = vgg([64, 128, 'M', 256, 256, 'M', 512, 512, 'M', 1024, 1024, 'M', 1024, 512, 'M']);
const VGG11_HALF = vgg([64, 'M', 64, 'M', 128, 128, 'M', 256, 256, 'M', 256, 512, 'M']);

/** The constraint-forced CLA mapping (the costs do not matter for these pairs). */
function forcedMapping(A: VggArch | ResNetArch, B: VggArch | ResNetArch): number[] {
  return alignByParts(A, B, (a, b) => indexCost(a.length, b.length), { kind: 'cla', align: { startLayer: 2, fixedEndLayers: 1 } }).mapping;
}

describe('adding layers to a VGG (spec §6.1)', () => {
  it('turns VGG11_half into VGG13_student for the paper mapping [1,3,5,6,7,8,9,10]', () => {
    const plan = addLayersPlan([1, 3, 5, 6, 7, 8, 9, 10], 10);
    expect(plan).toEqual([0, null, 1, null, 2, 3, 4, 5, 6, 7, 8]);
    expect(depthAlignedArch(VGG13_DOUB, VGG11_HALF, plan)).toEqual(
      vgg([64, 64, 'M', 64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 256, 512, 'M']),
    );
  });

  for (const [bias, batchnorm] of [
    [false, false],
    [true, false],
    [true, true],
    [false, true],
  ] as const) {
    it(`preserves the function exactly with centre-tap identities (bias ${bias}, BatchNorm ${batchnorm})`, () => {
      const A = vgg([4, 6, 'M', 8, 8, 8, 'M', 6, 5], { input: [8, 8, 3], fc: [7, 6], bias, batchnorm });
      const B = randomCnn(vgg([5, 'M', 6, 'M', 7], { input: [8, 8, 3], fc: [9], bias, batchnorm }), 3);
      const mapping = forcedMapping(A, B.arch as VggArch);
      expect(mapping).toEqual([1, 3, 6, 8]);
      const Bp = addLayers(B, mapping, A);
      expect(Bp.arch).toEqual(vgg([5, 5, 'M', 6, 6, 6, 'M', 7, 7], { input: [8, 8, 3], fc: [9, 9], bias, batchnorm }));
      const x = randomImages(A, 6, 4);
      expect(maxAbsDiff(referenceLogits(Bp, x), referenceLogits(B, x))).toBeLessThan(1e-6);
    });
  }
});

const resnet = (blocks: number[], extra: Partial<ResNetArch> = {}): ResNetArch => ({
  family: 'resnet',
  input: [6, 6, 3],
  blocks,
  widths: [4, 6, 5],
  classes: 3,
  bias: false,
  ...extra,
});

describe('adding zero blocks to a ResNet (spec §6.1)', () => {
  it('places the inserted ResNet18 blocks where the paper says (layer1.1; layer2.1–2; layer3.1–4; layer4.1)', () => {
    const R34: ResNetArch = { family: 'resnet', input: [32, 32, 3], blocks: [3, 4, 6, 3], widths: [64, 128, 256, 512], classes: 10, bias: false };
    const R18: ResNetArch = { ...R34, blocks: [2, 2, 2, 2], widths: [32, 64, 128, 256] };
    const plan = addLayersPlan(forcedMapping(R34, R18), 36);
    const arch = depthAlignedArch(R34, R18, plan);
    expect(arch).toEqual({ ...R34, widths: [32, 64, 128, 256] });
    const inserted = layerSpecs(arch)
      .filter((s) => plan[s.index] === null)
      .map((s) => s.module.replace(/\.conv\d$/, ''));
    expect([...new Set(inserted)]).toEqual(['layer1.1', 'layer2.1', 'layer2.2', 'layer3.1', 'layer3.2', 'layer3.3', 'layer3.4', 'layer4.1']);
  });

  for (const [bias, batchnorm] of [
    [false, false],
    [true, true],
  ] as const) {
    it(`preserves the function exactly (bias ${bias}, BatchNorm ${batchnorm}), also in training-mode BatchNorm`, () => {
      const A = resnet([3, 3, 2], { bias, batchnorm });
      const B = randomCnn(resnet([2, 1, 1], { bias, batchnorm }), 5);
      const mapping = forcedMapping(A, B.arch as ResNetArch);
      expect(mapping).toEqual([1, 2, 3, 6, 7, 8, 9, 10, 15, 16, 17]);
      const Bp = addLayers(B, mapping, A);
      expect(Bp.arch).toEqual(A);
      const x = randomImages(A, 5, 6);
      expect(maxAbsDiff(referenceLogits(Bp, x), referenceLogits(B, x))).toBeLessThan(1e-6);
      if (batchnorm) {
        // A zero block's BatchNorm (weight 0, bias 0) outputs 0 with batch statistics too.
        const train = (m: typeof B) => referenceTaps(m, x, { mode: 'train', stats: new Map() }).at(-1)!;
        expect(maxAbsDiff(train(Bp), train(B))).toBeLessThan(1e-6);
      }
    });
  }

  it('refuses to insert part of a block or a down-sampling block', () => {
    const A = resnet([3, 3, 2]);
    const B = randomCnn(resnet([2, 1, 1]), 5);
    // layer1.0's conv2 goes to layer1.1's conv1: layer1.0.conv2 would be inserted alone.
    expect(() => addLayers(B, [1, 2, 4, 6, 7, 8, 9, 10, 15, 16, 17], A)).toThrow(/layer1\.0\.conv2 alone.*only partly matched/);
    // layer2.0 (down-sampling) of B taken by A's layer2.1: A's layer2.0 would be a zero block with a shortcut.
    expect(() => addLayers(B, [1, 2, 3, 6, 7, 10, 11, 12, 15, 16, 17], A)).toThrow(/whole blocks|does not fit/);
  });
});
