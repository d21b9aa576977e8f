import { describe, expect, it } from 'vitest';
import { type Model, type ResNetArch, type VggArch, layerSpecs } from '@clafusion/model-format/arch';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { tapShapes } from '../nn/layers.ts';
import { type OtFusionOptions, otFusion } from './otfusion.ts';
import { CNN_GROUND_METRIC } from './ground-metric.ts';
import { fusedModel, fusionLayers, neuronRows } from './model-layers.ts';
import type { Tap } from './taps.ts';
import { addLayers } from '../balance/add-layers.ts';
import { maxAbsDiff } from '../../../test/support/reference-mlp.ts';
import { randomCnn, randomImages, referenceLogits, referenceTaps } from '../../../test/support/reference-cnn.ts';
import { permuteChannels } from '../../../test/support/permute-cnn.ts';

const t = 12;
const options: OtFusionOptions = {
  alignment: 'activations',
  groundMetric: CNN_GROUND_METRIC,
  solver: { kind: 'exact' },
  correction: true,
  pastCorrection: true,
  weightN1: 0.5,
  outputLayer: 'align',
  handleSkips: true,
  samples: t,
};

function taps(model: Model, x: Tensor32): Tap[] {
  const shapes = tapShapes(model.arch);
  return referenceTaps(model, x).map((data, k) => ({ data: Float32Array.from(data), shape: shapes[k] }));
}

function fuse(N0: Model, N1: Model, x: Tensor32, extra: Partial<OtFusionOptions> = {}) {
  const results = otFusion(
    { layers0: fusionLayers(N0), layers1: fusionLayers(N1), acts0: neuronRows(taps(N0, x), t), acts1: neuronRows(taps(N1, x), t) },
    { ...options, ...extra },
  );
  return { results, fused: fusedModel(N1, results) };
}

const vgg = (extra: Partial<VggArch> = {}): VggArch => ({ family: 'vgg', input: [8, 8, 3], config: [5, 'M', 6, 6, 'M', 7], fc: [8], classes: 4, bias: false, ...extra });
const resnet = (extra: Partial<ResNetArch> = {}): ResNetArch => ({ family: 'resnet', input: [8, 8, 3], blocks: [2, 2], widths: [4, 6], classes: 3, bias: false, ...extra });

function expectSameWeights(a: Model, b: Model, tolerance = 1e-5) {
  for (const [name, tensor] of b.params) expect(maxAbsDiff(a.params.get(name)!.data, tensor.data), name).toBeLessThan(tolerance);
}

describe('OTFusion through conv layers (spec §7.2)', () => {
  for (const [bias, batchnorm] of [
    [false, false],
    [true, true],
  ] as const) {
    it(`recovers a channel-permuted VGG (bias ${bias}, BatchNorm ${batchnorm}; maps applied per kernel position and to the flattened classifier input)`, () => {
      const N1 = randomCnn(vgg({ bias, batchnorm, input: [4, 4, 3], config: [5, 'M', 6, 6] }), 1);
      const N0 = permuteChannels(N1, 2);
      const x = randomImages(N1.arch as VggArch, t, 3);
      expect(maxAbsDiff(referenceLogits(N0, x), referenceLogits(N1, x))).toBeLessThan(1e-9);
      const { fused } = fuse(N0, N1, x);
      // T̃ is a permutation scaled by 1/(1 + o·1e-7): every tensor, BN statistics included, comes back.
      expectSameWeights(fused, N1);
    });
  }

  it('recovers a channel-permuted VGG with the weight-based ground metric (§7.5)', () => {
    const N1 = randomCnn(vgg(), 4);
    const N0 = permuteChannels(N1, 5);
    const results = otFusion({ layers0: fusionLayers(N0), layers1: fusionLayers(N1) }, { ...options, alignment: 'weights' });
    expectSameWeights(fusedModel(N1, results), N1);
  });

  for (const batchnorm of [false, true]) {
    it(`recovers a channel-permuted ResNet with skip handling, and cannot fuse it without (BatchNorm ${batchnorm})`, () => {
      const N1 = randomCnn(resnet({ batchnorm, bias: batchnorm }), 6);
      const N0 = permuteChannels(N1, 7);
      const x = randomImages(N1.arch as ResNetArch, t, 8);
      expect(maxAbsDiff(referenceLogits(N0, x), referenceLogits(N1, x))).toBeLessThan(1e-9);
      expectSameWeights(fuse(N0, N1, x).fused, N1);
      // Without §7.3 the shortcut's inputs get conv2's map, of the wrong stage width.
      expect(() => fuse(N0, N1, x, { handleSkips: false })).toThrow(/layer2\.0\.shortcut\.0\.weight: input width 4 does not match the previous layer's 6/);
    });
  }

  it('follows the skip-handling trace of §7.3 on a ResNet34-shaped pair', () => {
    const arch: ResNetArch = { family: 'resnet', input: [8, 8, 3], blocks: [3, 4, 6, 3], widths: [2, 3, 4, 5], classes: 3, bias: false };
    const N0 = randomCnn(arch, 1);
    const N1 = randomCnn(arch, 2);
    const expected = layerSpecs(arch).map((_, l) => (l === 0 ? [] : [l - 1]));
    // 9, 18, 31: the shortcut reads the block input's map (saved at 7, 16, 29); the next conv averages two.
    for (const [sc, from] of [
      [9, 6],
      [18, 15],
      [31, 28],
    ]) {
      expected[sc] = [from];
      expected[sc + 1] = [sc, sc - 1];
    }
    const run = (layers0: ReturnType<typeof fusionLayers>) =>
      otFusion({ layers0, layers1: fusionLayers(N1) }, { ...options, alignment: 'weights' }).map((r) => r.inputFrom);
    expect(run(fusionLayers(N0))).toEqual(expected);
    // The official shape-based reading gives the same trace on this architecture.
    expect(run(fusionLayers(N0).map(({ residual: _, ...layer }) => layer))).toEqual(expected);
  });

  it('applies skip handling to conv layers only: a classifier after a shortcut block uses T̃ of the shortcut alone (§7.3)', () => {
    // Stage 2's only block has a shortcut conv, so the linear layer comes right after it.
    const arch: ResNetArch = { family: 'resnet', input: [8, 8, 3], blocks: [1, 1], widths: [2, 3], classes: 3, bias: false };
    const N0 = randomCnn(arch, 1);
    const N1 = randomCnn(arch, 2);
    const specs = layerSpecs(arch);
    expect(specs.map((s) => s.role)).toEqual(['stem', 'conv1', 'conv2', 'conv1', 'conv2', 'shortcut', 'classifier']);
    const run = (layers0: ReturnType<typeof fusionLayers>) =>
      otFusion({ layers0, layers1: fusionLayers(N1) }, { ...options, alignment: 'weights' }).map((r) => r.inputFrom);
    const expected = [[], [0], [1], [2], [3], [2], [5]];
    expect(run(fusionLayers(N0))).toEqual(expected);
    expect(run(fusionLayers(N0).map(({ residual: _, ...layer }) => layer))).toEqual(expected);
  });

  it('fuses teacher–student widths into N1′s shapes', () => {
    const N0 = randomCnn(vgg({ config: [10, 'M', 12, 12, 'M', 14], fc: [16] }), 9);
    const N1 = randomCnn(vgg(), 10);
    const x = randomImages(N1.arch as VggArch, t, 11);
    const { results, fused } = fuse(N0, N1, x);
    expect(results.map((r) => [r.rows, r.cols])).toEqual([
      [10, 5],
      [12, 6],
      [12, 6],
      [14, 7],
      [16, 8],
      [4, 4],
    ]);
    expect(fused.arch).toEqual(N1.arch);
  });
});

describe('degenerate transport problems (spec §7.7)', () => {
  it('gives the same fused function whichever optimal plan a zero block′s conv1 receives (equal widths)', () => {
    const A = randomCnn(resnet({ blocks: [3, 2] }), 12);
    const B = randomCnn(resnet({ blocks: [2, 1] }), 13);
    const Bp = addLayers(B, [1, 2, 3, 6, 7, 8, 9, 10], A.arch);
    const x = randomImages(A.arch as ResNetArch, t, 14);
    // A with permuted channels is the same function, but the zero block's
    // conv1 sees its rows of M in another order, and the solver another vertex.
    const Aperm = permuteChannels(A, 15);
    const one = fuse(A, Bp, x);
    const two = fuse(Aperm, Bp, x);
    const degenerate = 'layer1.1.conv1.weight';
    const planOf = (r: typeof one) => r.results.find((l) => l.name === degenerate)!.transport!;
    expect(maxAbsDiff(planOf(one), planOf(two))).toBeGreaterThan(0.1);
    const y = referenceLogits(one.fused, x);
    const scale = Math.max(...y.map(Math.abs));
    expect(maxAbsDiff(referenceLogits(two.fused, x), y)).toBeLessThan(1e-5 * scale);
  });
});
