import { describe, expect, it } from 'vitest';
import type { Model, ResNetArch, VggArch } from '@clafusion/model-format/arch';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { tapShapes } from '../nn/layers.ts';
import { addLayers, addLayersPlan } from '../balance/add-layers.ts';
import { deriveDepthAlignedTaps } from './depth-aligned-taps.ts';
import { maxAbsDiff } from '../../../test/support/reference-mlp.ts';
import { randomCnn, randomImages, referenceTaps } from '../../../test/support/reference-cnn.ts';

const t = 5;

function taps(model: Model, x: Tensor32) {
  const shapes = tapShapes(model.arch);
  return referenceTaps(model, x).map((d, k) => ({ data: Float32Array.from(d), shape: shapes[k] }));
}

function check(A: VggArch | ResNetArch, B: Model, mapping: number[], tolerance: number) {
  const x = randomImages(A, t, 1);
  const Bp = addLayers(B, mapping, A);
  const plan = addLayersPlan(mapping, tapShapes(A).length - 1);
  const derived = deriveDepthAlignedTaps(Bp.arch, plan, taps(B, x), t, tapShapes(Bp.arch))!;
  const recorded = taps(Bp, x);
  expect(derived.map((d) => d.shape)).toEqual(recorded.map((r) => r.shape));
  derived.forEach((d, k) => expect(maxAbsDiff(d.data, recorded[k].data), `tap ${k}`).toBeLessThanOrEqual(tolerance));
}

const vgg = (config: (number | 'M')[], extra: Partial<VggArch> = {}): VggArch => ({ family: 'vgg', input: [8, 8, 3], config, fc: [6, 5], classes: 4, bias: false, ...extra });
const resnet = (blocks: number[], extra: Partial<ResNetArch> = {}): ResNetArch => ({ family: 'resnet', input: [6, 6, 3], blocks, widths: [4, 6], classes: 3, bias: false, ...extra });

describe('B′ taps derived from B′s (no forward pass of B′)', () => {
  it('equals a forward pass of a VGG B′, identities after a pool and in the FC part included', () => {
    const A = vgg([6, 6, 'M', 8, 8, 8, 'M'], { fc: [6, 5, 5] });
    const B = randomCnn(vgg([5, 'M', 7, 'M'], { fc: [6] }), 2);
    // group 2's conv goes to A's 2nd conv of the group: an identity right after the pool.
    check(A, B, [1, 4, 6], 0);
  });

  it('equals a forward pass of a VGG B′ with bias and BatchNorm to an ulp', () => {
    const A = vgg([6, 6, 'M', 8, 8, 'M'], { bias: true, batchnorm: true });
    const B = randomCnn(vgg([5, 'M', 7, 'M'], { bias: true, batchnorm: true }), 3);
    check(A, B, [1, 3, 5, 6], 1e-5);
  });

  for (const batchnorm of [false, true]) {
    it(`equals a forward pass of a ResNet B′ with zero blocks (BatchNorm ${batchnorm})`, () => {
      const A = resnet([3, 3], { batchnorm, bias: batchnorm });
      const B = randomCnn(resnet([2, 1], { batchnorm, bias: batchnorm }), 4);
      check(A, B, [1, 2, 3, 6, 7, 8, 9, 10], 0);
    });
  }

  it('declines when an identity precedes B′s first layer (its input may be negative)', () => {
    const A = vgg([6, 6, 'M', 8, 'M']);
    const B = randomCnn(vgg([5, 'M', 7, 'M']), 5);
    const mapping = [2, 3, 4, 5];
    const Bp = addLayers(B, mapping, A);
    const x = randomImages(A, t, 1);
    expect(deriveDepthAlignedTaps(Bp.arch, addLayersPlan(mapping, 5), taps(B, x), t, tapShapes(Bp.arch))).toBeNull();
  });
});
