import { describe, expect, it } from 'vitest';
import { type Model, type ResNetArch, type VggArch, layerSpecs } from '@clafusion/model-format/arch';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { tapShapes } from '../nn/layers.ts';
import type { BatchStats } from '../nn/cnn-reference.fixture.ts';
import { reestimateBatchNorm } from './bn-statistics.ts';
import { ownOutputStats, repairFused, repairTargets } from './repair.ts';
import { type OtFusionOptions, otFusion } from './otfusion.ts';
import { CNN_GROUND_METRIC } from './ground-metric.ts';
import { fusedModel, fusionLayers, neuronRows } from './model-layers.ts';
import { randomCnn, randomImages, referenceTaps } from '../../../test/support/reference-cnn.ts';

const vgg = (extra: Partial<VggArch> = {}): VggArch => ({ family: 'vgg', input: [8, 8, 3], config: [5, 'M', 6, 6, 'M', 7], fc: [8], classes: 4, bias: true, batchnorm: true, ...extra });
const resnet = (extra: Partial<ResNetArch> = {}): ResNetArch => ({ family: 'resnet', input: [8, 8, 3], blocks: [2, 1], widths: [4, 6], classes: 3, bias: true, batchnorm: true, ...extra });

function relClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) {
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected[i])));
}

describe('BatchNorm re-estimation on calibration data', () => {
  for (const arch of [vgg(), resnet()]) {
    it(`sets every running statistic to the training-mode batch statistics (${arch.family})`, () => {
      const model = randomCnn(arch, 1);
      const x = randomImages(arch, 20, 2);
      const stats = new Map<string, BatchStats>();
      referenceTaps(model, x, { mode: 'train', stats });
      const out = reestimateBatchNorm(model, x);
      expect(stats.size).toBeGreaterThan(3);
      for (const [prefix, s] of stats) {
        relClose(out.params.get(`${prefix}.running_mean`)!.data, s.mean, 1e-5);
        relClose(out.params.get(`${prefix}.running_var`)!.data, s.unbiasedVar, 1e-5);
      }
      // Everything else is untouched.
      for (const [name, tensor] of model.params) if (!name.includes('running_')) expect(out.params.get(name)!.data).toEqual(tensor.data);
    });
  }

  it('pools batches into the statistics of the whole set where the input does not depend on earlier BatchNorms', () => {
    const arch = vgg();
    const model = randomCnn(arch, 3);
    const x = randomImages(arch, 21, 4);
    const stats = new Map<string, BatchStats>();
    referenceTaps(model, x, { mode: 'train', stats });
    const pooled = reestimateBatchNorm(model, x, 8); // batches of 8, 8 and 5
    relClose(pooled.params.get('features.1.running_mean')!.data, stats.get('features.1')!.mean, 1e-5);
    relClose(pooled.params.get('features.1.running_var')!.data, stats.get('features.1')!.unbiasedVar, 1e-5);
  });

  it('leaves models without BatchNorm alone', () => {
    const model = randomCnn(vgg({ batchnorm: false }), 5);
    expect(reestimateBatchNorm(model, randomImages(model.arch as VggArch, 4, 6))).toBe(model);
  });
});

const t = 24;
function fusePair(N0: Model, N1: Model, x: Tensor32) {
  const taps = (m: Model) => {
    const shapes = tapShapes(m.arch);
    return referenceTaps(m, x).map((d, k) => ({ data: Float32Array.from(d), shape: shapes[k] }));
  };
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
  const results = otFusion({ layers0: fusionLayers(N0), layers1: fusionLayers(N1), acts0: neuronRows(taps(N0), t), acts1: neuronRows(taps(N1), t) }, options);
  return { fused: fusedModel(N1, results), transports: results.map((r) => r.transport) };
}

describe('REPAIR renormalisation', () => {
  for (const arch of [vgg(), vgg({ batchnorm: false }), resnet(), resnet({ batchnorm: false })]) {
    it(`moves every fused channel to the interpolated parent statistics (${arch.family}, BatchNorm ${arch.batchnorm ?? false})`, () => {
      const N0 = randomCnn(arch, 7);
      const N1 = randomCnn(arch, 8);
      const x = randomImages(arch, t, 9);
      const { fused, transports } = fusePair(N0, N1, x);
      const start = arch.batchnorm ? reestimateBatchNorm(fused, x) : fused;
      const input = { fused: start, n0: N0, n1: N1, transports, weightN1: 0.5, x };
      const targets = repairTargets(input);
      const repaired = ownOutputStats(repairFused(input), x);
      // BatchNorm's eps leaves a BN layer's output std √(v/(v + eps)) under its target.
      const bnLayer = layerSpecs(arch).map((s) => s.bn !== undefined);
      targets.forEach((target, l) => {
        const tolerance = bnLayer[l] ? 3e-3 : 1e-4;
        relClose(repaired[l].mean, target.mean, tolerance);
        relClose(repaired[l].std, target.std, tolerance);
      });
    });
  }

});
