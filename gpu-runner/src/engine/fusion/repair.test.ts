/**
 * REPAIR for every family, with and without biases or BatchNorm (issue #17):
 * the corrected statistics hit their targets (measured independently, by the
 * float64 reference forward), bias-free models gain biases under PyTorch's
 * names, and two function-preservation properties: a network fused with
 * itself and repaired is that network, and a depth-aligned model repaired
 * alone still computes what the shallower model computes.
 */
import { describe, expect, it } from 'vitest';
import { type MlpArch, type Model, type ResNetArch, type VggArch, layerSpecs, paramSpecs } from '@clafusion/model-format/arch';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { Rng } from '../rng.ts';
import { tapShapes } from '../nn/layers.ts';
import { addLayers, addLayersPlan } from '../balance/add-layers.ts';
import { alignByParts } from '../cla/grouped-alignment.ts';
import { indexCost } from '../cla/layer-cost.ts';
import { reestimateBatchNorm } from './bn-statistics.ts';
import { type ChannelStats, interpolatedTargets, ownOutputStats, repairFused, repairToTargets, withBiases } from './repair.ts';
import { type OtFusionOptions, otFusion } from './otfusion.ts';
import { CNN_GROUND_METRIC } from './ground-metric.ts';
import { fuseMany } from './fuse-many.ts';
import type { FusionHooks } from './hooks.ts';
import { defaultFusionOptions } from './options.ts';
import { permuteChannels } from '../../../test/support/permute-cnn.ts';
import { fusedModel, fusionLayers, neuronRows } from './model-layers.ts';
import { maxAbsDiff, randomMlp } from '../../../test/support/reference-mlp.ts';
import { randomCnn, randomImages, referenceLogits, referenceTaps } from '../../../test/support/reference-cnn.ts';

const vgg = (extra: Partial<VggArch> = {}): VggArch => ({ family: 'vgg', input: [8, 8, 3], config: [5, 'M', 6, 6, 'M', 7], fc: [8], classes: 4, bias: false, ...extra });
const resnet = (extra: Partial<ResNetArch> = {}): ResNetArch => ({ family: 'resnet', input: [8, 8, 3], blocks: [2, 1], widths: [4, 6], classes: 3, bias: false, ...extra });
const t = 24;

function relClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) {
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected[i])));
}

/** Channel statistics of every hidden layer's own output from the float64 reference taps (conv2: the branch). */
function referenceOwnStats(model: Model, x: Tensor32): ChannelStats[] {
  const taps = referenceTaps(model, x);
  const shapes = tapShapes(model.arch);
  const specs = layerSpecs(model.arch);
  const n = x.shape[0];
  let stream: Float64Array | null = null;
  return specs.map((s, l) => {
    let own = taps[l];
    if (s.role === 'conv2') {
      const short = specs[l + 1].role === 'shortcut' && specs[l + 1].block === s.block ? taps[l + 1] : stream!;
      own = own.map((v, k) => v - short[k]);
    }
    if (s.role === 'stem' || s.role === 'conv2') stream = taps[l].map((v) => Math.max(0, v));
    const C = shapes[l][0];
    const S = own.length / n / C;
    const mean = new Float64Array(C);
    const sq = new Float64Array(C);
    for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) for (let p = 0; p < S; p++) mean[c] += own[(i * C + c) * S + p] / (n * S);
    for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) for (let p = 0; p < S; p++) sq[c] += (own[(i * C + c) * S + p] - mean[c]) ** 2;
    return { mean, std: sq.map((v) => Math.sqrt(v / (n * S))) };
  });
}

function otPair(N0: Model, N1: Model, x: Tensor32) {
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
    handleSkips: N0.arch.family === 'resnet',
    samples: t,
  };
  const results = otFusion({ layers0: fusionLayers(N0), layers1: fusionLayers(N1), acts0: neuronRows(taps(N0), t), acts1: neuronRows(taps(N1), t) }, options);
  return { fused: fusedModel(N1, results), transports: results.map((r) => r.transport) };
}

describe('REPAIR without biases or BatchNorm', () => {
  for (const arch of [vgg(), resnet({ blocks: [2, 2], widths: [4, 4] }), resnet({ batchnorm: true })]) {
    it(`measures each layer's own output in one pass, as the float64 reference does (${arch.family}, widths ${JSON.stringify(arch.family === 'resnet' ? arch.widths : arch.config)})`, () => {
      // [2, 2] blocks at equal widths: identity shortcuts, where a conv2's own output is the branch, not the block sum.
      const model = randomCnn(arch, 5);
      const x = randomImages(arch, t, 6);
      const measured = ownOutputStats(model, x);
      const reference = referenceOwnStats(model, x);
      expect(measured.length).toBe(layerSpecs(arch).length);
      measured.forEach((s, l) => {
        relClose(s.mean, reference[l].mean, 1e-4);
        relClose(s.std, reference[l].std, 1e-4);
      });
    });
  }

  for (const arch of [vgg(), resnet(), vgg({ bias: true }), resnet({ bias: true })]) {
    it(`hits the interpolated targets layer by layer (${arch.family}, bias ${arch.bias})`, () => {
      const N0 = randomCnn(arch, 7);
      const N1 = randomCnn(arch, 8);
      const x = randomImages(arch, t, 9);
      const { fused, transports } = otPair(N0, N1, x);
      const input = { fused, n0: N0, n1: N1, transports, weightN1: 0.5, x };
      const repaired = repairFused(input);
      // The targets, computed here from the reference forward and the maps.
      const s0 = referenceOwnStats(N0, x);
      const s1 = referenceOwnStats(N1, x);
      const after = referenceOwnStats(repaired, x);
      const before = referenceOwnStats(fused, x);
      let moved = 0;
      s1.forEach((b, l) => {
        const T = transports[l]!;
        const o1 = b.mean.length;
        const carry = (v: Float64Array) => Float64Array.from({ length: o1 }, (_, j) => v.reduce((s, vi, i) => s + T[i * o1 + j] * vi, 0));
        const target = { mean: carry(s0[l].mean).map((v, j) => 0.5 * v + 0.5 * b.mean[j]), std: carry(s0[l].std).map((v, j) => 0.5 * v + 0.5 * b.std[j]) };
        relClose(after[l].mean, target.mean, 1e-4);
        relClose(after[l].std, target.std, 1e-4);
        moved = Math.max(moved, maxAbsDiff(before[l].std, target.std));
      });
      expect(moved).toBeGreaterThan(1e-2); // the fused model was not already there
      expect(repaired.arch).toEqual({ ...arch, bias: true });
    });
  }

  it('gains biases named as PyTorch names them for bias=True (zeros where nothing moved)', () => {
    const m = withBiases(randomCnn(resnet(), 1));
    const names = paramSpecs(m.arch).map((p) => p.name);
    expect(names).toContain('layer2.0.shortcut.0.bias');
    expect(names).toContain('layer1.0.conv2.bias');
    expect(names).toContain('linear.bias');
    expect(m.params.get('linear.bias')!.data).toEqual(new Float32Array(3));
    expect(paramSpecs(withBiases(randomCnn(vgg(), 1)).arch).map((p) => p.name)).toEqual([
      'features.0.weight', 'features.0.bias', 'features.3.weight', 'features.3.bias', 'features.5.weight', 'features.5.bias',
      'features.8.weight', 'features.8.bias', 'classifier.0.weight', 'classifier.0.bias', 'classifier.2.weight', 'classifier.2.bias',
    ]);
  });

  it('repairs a bias-free MLP', () => {
    const arch: MlpArch = { family: 'mlp', input: [6], hidden: [5, 4], classes: 3, bias: false };
    const rng = new Rng(3);
    const x: Tensor32 = { shape: [30, 6], data: Float32Array.from({ length: 180 }, () => rng.normal()) };
    const [N0, N1] = [randomMlp(arch, 1), randomMlp(arch, 2)];
    const targets = interpolatedTargets([{ model: N0, transports: [], weight: 1 }, { model: N1, transports: [], weight: 3 }], x);
    const repaired = repairToTargets(N0, targets, x);
    ownOutputStats(repaired, x).forEach((s, l) => {
      relClose(s.mean, targets[l].mean, 1e-4);
      relClose(s.std, targets[l].std, 1e-4);
    });
    expect(repaired.arch.bias).toBe(true);
  });
});

describe('REPAIR preserves what needs no repair', () => {
  for (const arch of [vgg(), resnet(), vgg({ bias: true, batchnorm: true }), resnet({ bias: true, batchnorm: true })]) {
    it(`a network fused with itself and repaired computes what it did (${arch.family}, BatchNorm ${arch.batchnorm ?? false})`, () => {
      const x = randomImages(arch, t, 12);
      // A BatchNorm network whose running statistics are its calibration data's (REPAIR re-estimates them on x).
      const A = reestimateBatchNorm(randomCnn(arch, 11), x);
      const { fused, transports } = otPair(A, A, x);
      const repaired = repairFused({ fused, n0: A, n1: A, transports, weightN1: 0.5, x });
      const logits = referenceLogits(A, x);
      // BatchNorm's eps: a corrected BN layer's std lands √(v/(v + eps)) under its target (repair.ts).
      const tolerance = arch.batchnorm ? 1e-3 : 1e-5;
      expect(maxAbsDiff(referenceLogits(repaired, x), logits)).toBeLessThan(tolerance * Math.max(1, ...logits.map(Math.abs)));
    });
  }

  const forced = (A: VggArch | ResNetArch, B: VggArch | ResNetArch) =>
    alignByParts(A, B, (a, b) => indexCost(a.length, b.length), { kind: 'cla', align: { startLayer: 2, fixedEndLayers: 1 } }).mapping;
  for (const [A, B] of [
    [vgg({ config: [4, 6, 'M', 8, 8, 8, 'M', 6, 5], fc: [7, 6] }), vgg({ config: [5, 'M', 6, 'M', 7], fc: [9] })],
    [resnet({ blocks: [3, 3, 2], widths: [4, 6, 5], input: [6, 6, 3] }), resnet({ blocks: [2, 1, 1], widths: [4, 6, 5], input: [6, 6, 3] })],
  ] as const) {
    it(`a depth-aligned model (identity layers / zero blocks) repaired alone computes what the shallower model does (${A.family})`, () => {
      const Bm = randomCnn(B, 5);
      const Bp = addLayers(Bm, forced(A, B), A);
      const x = randomImages(A, t, 6);
      const repaired = repairToTargets(Bp, interpolatedTargets([{ model: Bp, transports: [], weight: 1 }], x), x);
      const logits = referenceLogits(Bm, x);
      expect(maxAbsDiff(referenceLogits(repaired, x), logits)).toBeLessThan(1e-5 * Math.max(1, ...logits.map(Math.abs)));
      // Every inserted identity conv's target is the statistics its input (the post-ReLU output before it) had.
      if (A.family === 'vgg') {
        const plan = addLayersPlan(forced(A, B), layerSpecs(A).length - 1);
        const specs = layerSpecs(Bp.arch);
        const stats = referenceOwnStats(Bp, x);
        const taps = referenceTaps(Bp, x);
        const checked = specs.filter((s, l) => l > 0 && plan[l] === null && s.kind === 'conv' && specs[l - 1].group === s.group);
        expect(checked.length).toBeGreaterThan(0);
        for (const s of checked) {
          const input = taps[s.index - 1].map((v) => Math.max(0, v));
          const C = s.shape[0];
          const S = input.length / t / C;
          const mean = Float64Array.from({ length: C }, (_, c) => {
            let sum = 0;
            for (let i = 0; i < t; i++) for (let p = 0; p < S; p++) sum += input[(i * C + c) * S + p];
            return sum / (t * S);
          });
          relClose(stats[s.index].mean, mean, 1e-5);
        }
      }
    });
  }
});

describe('REPAIR of K models', () => {
  it('interpolates every member carried into the anchor basis; a permuted copy of the anchor counts as the anchor', async () => {
    const arch = resnet({ input: [6, 6, 3], widths: [4, 6] });
    const x = randomImages(arch, t, 21);
    const hooks: FusionHooks = {
      rows: t,
      record: async (model: Model) => {
        const shapes = tapShapes(model.arch);
        return referenceTaps(model, x).map((d, k) => ({ data: Float32Array.from(d), shape: shapes[k] }));
      },
    };
    const deep = randomCnn({ ...arch, blocks: [3, 2] }, 2);
    const models = [randomCnn({ ...arch, blocks: [2, 1] }, 3), deep, permuteChannels(deep, 4)];
    const many = await fuseMany(models, defaultFusionOptions('resnet'), hooks);
    const parents = [
      { model: deep, transports: [], weight: 1 / 3 },
      ...many.members.map((m) => ({ model: m.balanced.model, transports: m.balanced.transports, weight: 1 / 3 })),
    ];
    const targets = interpolatedTargets(parents, x);
    const pairTargets = interpolatedTargets([parents[1], { ...parents[0], weight: 2 / 3 }], x);
    targets.forEach((target, l) => {
      relClose(target.mean, pairTargets[l].mean, 1e-5);
      relClose(target.std, pairTargets[l].std, 1e-5);
    });
    const repaired = referenceOwnStats(repairToTargets(many.fused, targets, x), x);
    targets.forEach((target, l) => {
      relClose(repaired[l].mean, target.mean, 1e-4);
      relClose(repaired[l].std, target.std, 1e-4);
    });
  });
});
