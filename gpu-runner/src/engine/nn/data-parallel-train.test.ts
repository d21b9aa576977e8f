/**
 * Data-parallel training (data-parallel-train.ts) against single-thread
 * training of the same model, data, seed and recipe.
 *
 * Equality is to float32 rounding, not bitwise: with k replicas a batch's
 * gradient is summed per shard and then over shards, a different summation
 * order than one pass over the batch (and BatchNorm's statistics likewise).
 * Measured after these 6 steps of momentum SGD, the largest difference is
 * 1e-7 (MLP) to 1.6e-6 (a ResNet BatchNorm bias) relative to each tensor's
 * largest value, i.e. a few float32 ulps; the tolerances below are a few
 * times that. An error in the exchange (a shard's statistics used alone, a
 * gradient weighted wrongly, a running statistic from one shard) moves
 * results by 1e-3 or more (see the control test).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../runtime/backend.ts';
import { type MlpArch, type Model, type ResNetArch, type VggArch, paramSpecs } from '@clafusion/model-format/arch';
import { Rng } from '../rng.ts';
import { type Tensor32, numel } from '@clafusion/model-format/tensor';
import type { LabeledData } from './data.ts';
import { initModel } from './init.ts';
import { type TrainOptions, train } from './train.ts';

const TINY_VGG: VggArch = { family: 'vgg', input: [6, 6, 2], config: [3, 'M', 4, 'M'], fc: [5], classes: 3, bias: true, batchnorm: true };
const TINY_RESNET: ResNetArch = { family: 'resnet', input: [6, 6, 2], blocks: [1, 1], widths: [3, 4], classes: 3, bias: false, batchnorm: true };
const MLP: MlpArch = { family: 'mlp', input: [20], hidden: [16, 12], classes: 4, bias: true };

function randomData(seed: number, input: readonly number[], classes: number, n: number): LabeledData {
  const rng = new Rng(seed);
  const data = new Float32Array(n * numel(input));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  const x: Tensor32 = { shape: [n, ...input], data };
  return { x, y: Int32Array.from({ length: n }, (_, i) => (i * 7 + (data[i * numel(input)] > 0 ? 1 : 0)) % classes) };
}

/** max |a − b| over a tensor, relative to the tensor's largest |b|. */
function worstRelDiff(a: Model, b: Model, role?: (r: string) => boolean): number {
  let worst = 0;
  for (const spec of paramSpecs(a.arch)) {
    if (role !== undefined && !role(spec.role)) continue;
    const x = a.params.get(spec.name)!.data;
    const y = b.params.get(spec.name)!.data;
    let diff = 0;
    let scale = 1e-6;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
      scale = Math.max(scale, Math.abs(y[i]));
    }
    worst = Math.max(worst, diff / scale);
  }
  return worst;
}

function sameBytes(a: Model, b: Model): boolean {
  return [...a.params].every(([name, t]) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(b.params.get(name)!.data.buffer)));
}

const isRunningStat = (r: string) => r === 'bn.running_mean' || r === 'bn.running_var';

describe('data-parallel training (wasm)', () => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
  });

  // 23 samples at batch 8: batches of 8, 8 and 7 (unequal shards: 4+4, 4+3 with 2 threads, 3+3+2 and 3+2+2 with 3).
  const recipe: Omit<TrainOptions, 'threads'> = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, batchSize: 8, epochs: 2, seed: 3 };

  it('an MLP (no BatchNorm) trains to the single-thread parameters, losses and accuracies, and repeats bit for bit', async () => {
    const model = initModel(MLP, 1);
    const data = randomData(2, MLP.input, MLP.classes, 23);
    const one = await train(model, data, { ...recipe, threads: 1 });
    const two = await train(model, data, { ...recipe, threads: 2 });
    const again = await train(model, data, { ...recipe, threads: 2 });
    expect(worstRelDiff(two.model, one.model)).toBeLessThan(1e-6);
    expect(worstRelDiff(one.model, model)).toBeGreaterThan(1e-2); // training moved the weights
    two.history.forEach((e, i) => {
      expect(e.loss).toBeCloseTo(one.history[i].loss, 5);
      expect(e.trainAccuracy).toBe(one.history[i].trainAccuracy);
    });
    expect(sameBytes(two.model, again.model)).toBe(true);
  });

  for (const arch of [TINY_VGG, TINY_RESNET]) {
    it(`${arch.family} with BatchNorm: exchanged batch statistics give the single-thread running statistics and parameters`, async () => {
      const model = initModel(arch, 4);
      const data = randomData(5, [arch.input[2], arch.input[0], arch.input[1]], arch.classes, 23);
      const one = await train(model, data, { ...recipe, threads: 1 });
      for (const threads of [2, 3]) {
        const many = await train(model, data, { ...recipe, threads });
        expect(worstRelDiff(many.model, one.model, isRunningStat)).toBeLessThan(2e-6);
        expect(worstRelDiff(many.model, one.model)).toBeLessThan(5e-6);
        many.history.forEach((e, i) => expect(e.loss).toBeCloseTo(one.history[i].loss, 5));
        // Same seed and thread count: the same bytes (the exchange sums in rank order).
        expect(sameBytes((await train(model, data, { ...recipe, threads })).model, many.model)).toBe(true);
      }
      expect(worstRelDiff(one.model, model, isRunningStat)).toBeGreaterThan(1e-2);
    });
  }

  it('without the exchange (shard statistics alone) BatchNorm would differ: the check above can fail', async () => {
    // Per-shard statistics are what plain data parallelism gives; training on one half-batch alone
    // stands for it. Its running statistics move away from the full batch's far beyond the tolerance.
    const model = initModel(TINY_VGG, 4);
    const data = randomData(5, [2, 6, 6], 3, 8);
    const full = await train(model, data, { ...recipe, epochs: 1, shuffle: false, threads: 1 });
    const half = await train(model, { x: { shape: [4, 2, 6, 6], data: data.x.data.slice(0, 4 * 72) }, y: Array.from(data.y).slice(0, 4) }, { ...recipe, epochs: 1, shuffle: false, threads: 1 });
    expect(worstRelDiff(half.model, full.model, isRunningStat)).toBeGreaterThan(1e-3);
  });

  it('distillation: two threads give the single-thread student', async () => {
    const teacher = initModel(TINY_VGG, 9);
    const student = initModel(TINY_VGG, 10);
    const data = randomData(6, [2, 6, 6], 3, 16);
    const options = { ...recipe, teacher: { models: [teacher], alpha: 0.7, temperature: 4 }, augment: { padding: 1, flip: true } };
    const one = await train(student, data, { ...options, threads: 1 });
    const two = await train(student, data, { ...options, threads: 2 });
    expect(worstRelDiff(two.model, one.model)).toBeLessThan(5e-6);
  });

  it('rejects a thread count that is not a positive integer', async () => {
    const data = randomData(2, MLP.input, MLP.classes, 4);
    await expect(train(initModel(MLP, 1), data, { ...recipe, threads: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'threads' } });
  });
});
