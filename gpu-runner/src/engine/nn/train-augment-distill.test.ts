import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../io/datasets.ts';
import { NORMALIZE_PRESETS } from '../../io/dataset-transforms.ts';
import { initBackend } from '../../runtime/backend.ts';
import type { MlpArch, Model, VggArch } from '@clafusion/model-format/arch';
import { isFusionError } from '@clafusion/model-format/errors';
import { cifarAugment, normalizedZero } from './augment.ts';
import type { LabeledData } from './data.ts';
import { loadDigits } from './digits.fixture.ts';
import { accuracy } from './evaluate.ts';
import { initModel } from './init.ts';
import { train } from './train.ts';

function sameParams(a: Model, b: Model): boolean {
  return [...a.params].every(([name, t]) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(
    Buffer.from(b.params.get(name)!.data.buffer, b.params.get(name)!.data.byteOffset, b.params.get(name)!.data.byteLength),
  ));
}

describe('training with CIFAR augmentation on Fashion-MNIST 32×32×3 (wasm)', () => {
  let trainSet: LabeledData;
  let testSet: LabeledData;
  const arch: VggArch = { family: 'vgg', input: [32, 32, 3], config: [8, 'M', 16, 'M', 16, 'M', 16, 'M'], classes: 10, bias: false, batchnorm: true };
  const { mean, std } = NORMALIZE_PRESETS['fashion-mnist'];
  // The padded border of a normalised image is a zero pixel normalised.
  const augment = cifarAugment(normalizedZero(mean, std));

  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
    const d = await loadDataset('fashion-mnist:train', { limit: 800, pad: 2, channels: 3, normalize: 'fashion-mnist' });
    const per = 3 * 32 * 32;
    trainSet = { x: { shape: [600, 3, 32, 32], data: d.x.data.subarray(0, 600 * per) }, y: d.y!.subarray(0, 600) };
    testSet = { x: { shape: [200, 3, 32, 32], data: d.x.data.subarray(600 * per) }, y: d.y!.subarray(600) };
  });

  it('a tiny VGG learns on cropped and flipped batches: loss falls, accuracy rises far above chance', async () => {
    const initial = initModel(arch, 2);
    const before = tf.memory().numTensors;
    const result = await train(initial, trainSet, { lr: 0.02, momentum: 0.9, batchSize: 32, epochs: 2, seed: 2, eval: testSet, augment });
    expect(tf.memory().numTensors).toBe(before);
    const [e1, e2] = result.history;
    expect(e2.loss).toBeLessThan(e1.loss - 0.3);
    expect(e2.trainAccuracy).toBeGreaterThan(e1.trainAccuracy + 0.1);
    // Eval mode lags early in training (running statistics), so the bound is loose: chance is 0.1.
    expect(e2.evalAccuracy).toBeGreaterThan(0.45);
    expect(accuracy(initial, testSet)).toBeLessThan(0.25);
    // Finetuning's reported number is the best epoch; the start is not a candidate.
    expect(result.reported!.epoch).toBeGreaterThanOrEqual(1);
    expect(result.reported!.evalAccuracy).toBe(Math.max(e1.evalAccuracy!, e2.evalAccuracy!));
    expect(result.initialEvalAccuracy).toBeUndefined();
  });

  it('draws the augmentation from the seed: same seed identical, and the batches really change', async () => {
    const small: LabeledData = { x: { shape: [64, 3, 32, 32], data: trainSet.x.data.subarray(0, 64 * 3072) }, y: Int32Array.from(trainSet.y).subarray(0, 64) };
    const options = { lr: 0.05, momentum: 0.9, batchSize: 16, epochs: 1, seed: 4 };
    const [a, b, plain] = [
      await train(initModel(arch, 2), small, { ...options, augment }),
      await train(initModel(arch, 2), small, { ...options, augment }),
      await train(initModel(arch, 2), small, options),
    ];
    expect(sameParams(a.model, b.model)).toBe(true);
    expect(a.history).toEqual(b.history);
    expect(sameParams(a.model, plain.model)).toBe(false);
  });

  it('rejects augmentation of flat MLP inputs', async () => {
    const mlp: MlpArch = { family: 'mlp', input: [784], hidden: [8], classes: 10, bias: false };
    const digits = loadDigits(2);
    const flat = { x: { shape: [digits.x.shape[0], 784], data: digits.x.data }, y: digits.y };
    const error = await train(initModel(mlp, 0), flat, { lr: 0.1, epochs: 1, seed: 0, augment }).catch((e: unknown) => e);
    expect(isFusionError(error) && error.details?.field).toBe('augment');
  });
});

describe('knowledge distillation (wasm)', () => {
  const teacherArch: MlpArch = { family: 'mlp', input: [1, 28, 28], hidden: [100], classes: 10, bias: false };
  const studentArch: MlpArch = { family: 'mlp', input: [784], hidden: [20], classes: 10, bias: false };
  const trainSet = loadDigits(200);
  const testSet = loadDigits(100, 700);
  let teacher: Model;

  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
    teacher = (await train(initModel(teacherArch, 0), trainSet, { lr: 0.05, momentum: 0.9, epochs: 2, seed: 0 })).model;
  });

  it('a random student learns from a teacher: loss falls, the reported number is the max over before and every epoch', async () => {
    const before = tf.memory().numTensors;
    const result = await train(initModel(studentArch, 3), trainSet, {
      lr: 0.05, momentum: 0.9, epochs: 2, seed: 1, eval: testSet,
      teacher: { models: [teacher, teacher], alpha: 0.9, temperature: 4 },
    });
    expect(tf.memory().numTensors).toBe(before);
    const [e1, e2] = result.history;
    expect(e2.loss).toBeLessThan(e1.loss);
    expect(result.initialEvalAccuracy).toBeLessThan(0.3);
    expect(e2.evalAccuracy).toBeGreaterThan(0.75);
    expect(result.reported!.evalAccuracy).toBe(Math.max(result.initialEvalAccuracy!, e1.evalAccuracy!, e2.evalAccuracy!));
    expect(accuracy(result.reported!.model, testSet)).toBeCloseTo(result.reported!.evalAccuracy, 10);
  });

  it('keeps the student as it was when no epoch beats it (epoch 0), as a copy', async () => {
    const result = await train(teacher, trainSet, {
      lr: 0, epochs: 1, seed: 1, eval: testSet,
      teacher: { models: [teacher], alpha: 0.5, temperature: 2 },
    });
    expect(result.reported!.epoch).toBe(0);
    expect(result.reported!.evalAccuracy).toBe(result.initialEvalAccuracy);
    expect(sameParams(result.reported!.model, teacher)).toBe(true);
    expect(result.reported!.model.params.get('fc1.weight')!.data).not.toBe(teacher.params.get('fc1.weight')!.data);
  });

  it('with α = 0 is exactly plain cross-entropy training', async () => {
    const options = { lr: 0.05, momentum: 0.9, epochs: 1, seed: 2 };
    const small = loadDigits(30);
    const plain = await train(initModel(studentArch, 5), small, options);
    const distilled = await train(initModel(studentArch, 5), small, { ...options, teacher: { models: [teacher], alpha: 0, temperature: 4 } });
    expect(sameParams(plain.model, distilled.model)).toBe(true);
  });

  it('rejects a teacher of another class count and a bad temperature', async () => {
    const other = initModel({ ...teacherArch, classes: 5 }, 0);
    const small = loadDigits(2);
    const wrong = await train(initModel(studentArch, 0), small, { lr: 0.1, epochs: 1, seed: 0, teacher: { models: [other], alpha: 0.5, temperature: 4 } }).catch((e: unknown) => e);
    expect(isFusionError(wrong) && wrong.code).toBe('INCOMPATIBLE_MODELS');
    const badT = await train(initModel(studentArch, 0), small, { lr: 0.1, epochs: 1, seed: 0, teacher: { models: [teacher], alpha: 0.5, temperature: 0 } }).catch((e: unknown) => e);
    expect(isFusionError(badT) && badT.details?.field).toBe('temperature');
  });
});
