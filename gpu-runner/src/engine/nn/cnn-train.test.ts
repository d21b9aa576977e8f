import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../io/datasets.ts';
import { initBackend } from '../../runtime/backend.ts';
import { type Model, type ResNetArch, type VggArch, paramSpecs } from '@clafusion/model-format/arch';
import { Rng } from '../rng.ts';
import { type Tensor32, numel } from '@clafusion/model-format/tensor';
import { type BatchStats, referenceResNet, referenceVgg } from './cnn-reference.fixture.ts';
import type { LabeledData } from './data.ts';
import { accuracy } from './evaluate.ts';
import { initModel } from './init.ts';
import { train } from './train.ts';

const TINY_VGG: VggArch = { family: 'vgg', input: [6, 6, 2], config: [3, 'M', 4, 'M'], fc: [5], classes: 3, bias: true, batchnorm: true };
const TINY_RESNET: ResNetArch = { family: 'resnet', input: [6, 6, 2], blocks: [1, 1], widths: [3, 4], classes: 3, bias: false, batchnorm: true };

function randomData(seed: number, arch: VggArch | ResNetArch, n: number): LabeledData {
  const rng = new Rng(seed);
  const data = new Float32Array(n * numel(arch.input));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  const x: Tensor32 = { shape: [n, arch.input[2], arch.input[0], arch.input[1]], data };
  return { x, y: Int32Array.from({ length: n }, (_, i) => i % arch.classes) };
}

/** Running statistics moved off 0/1 so the momentum update is visible in both terms. */
function withRunningStats<M extends Model>(model: M, seed: number): M {
  const rng = new Rng(seed);
  for (const spec of paramSpecs(model.arch)) {
    const t = model.params.get(spec.name)!;
    if (spec.role === 'bn.running_mean') for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal();
    if (spec.role === 'bn.running_var') rng.fillUniform(t.data, 0.5, 2);
  }
  return model;
}

function meanNll(logits: Float64Array, labels: ArrayLike<number>, classes: number): number {
  let sum = 0;
  for (let s = 0; s < labels.length; s++) {
    const row = logits.subarray(s * classes, (s + 1) * classes);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
    sum += lse - row[labels[s]];
  }
  return sum / labels.length;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

describe('training CNNs with BatchNorm (wasm)', () => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
  });

  const cases: Array<[string, VggArch | ResNetArch]> = [
    ['VGG', TINY_VGG],
    ['ResNet', TINY_RESNET],
  ];
  it.each(cases)('%s: training mode uses batch statistics and updates every running statistic like PyTorch', async (_name, arch) => {
    const model = withRunningStats(initModel(arch, 7), 8);
    const data = randomData(9, arch, 6);
    const stats = new Map<string, BatchStats>();
    const taps =
      arch.family === 'vgg'
        ? referenceVgg(model as Model & { arch: VggArch }, data.x, { mode: 'train', stats })
        : referenceResNet(model as Model & { arch: ResNetArch }, data.x, { mode: 'train', stats });

    // lr 0: one full batch, so only the running statistics can change.
    const before = tf.memory().numTensors;
    const result = await train(model, data, { lr: 0, epochs: 1, seed: 0, batchSize: 6, shuffle: false });
    expect(tf.memory().numTensors).toBe(before);
    // The loss comes from the training-mode logits.
    expect(result.history[0].loss).toBeCloseTo(meanNll(taps.at(-1)!, data.y, arch.classes), 5);

    const bnPrefixes = new Set(paramSpecs(arch).filter((s) => s.role === 'bn.weight').map((s) => s.name.slice(0, -'.weight'.length)));
    expect([...stats.keys()].sort()).toEqual([...bnPrefixes].sort());
    for (const spec of paramSpecs(arch)) {
      const after = result.model.params.get(spec.name)!.data;
      const initial = model.params.get(spec.name)!.data;
      const prefix = spec.name.slice(0, spec.name.lastIndexOf('.'));
      if (spec.role === 'bn.running_mean' || spec.role === 'bn.running_var') {
        const s = stats.get(prefix)!;
        const batch = spec.role === 'bn.running_mean' ? s.mean : s.unbiasedVar;
        after.forEach((v, c) => expect(v).toBeCloseTo(0.9 * initial[c] + 0.1 * batch[c], 5));
      } else {
        expect(after).toEqual(initial);
      }
    }
  });

  it.each(cases)('%s: SGD steps with momentum and weight decay give the same weights on wasm and cpu', async (_name, arch) => {
    const model = withRunningStats(initModel(arch, 3), 4);
    const data = randomData(5, arch, 8);
    const options = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, epochs: 1, seed: 1, batchSize: 4 };
    const onWasm = await train(model, data, options);
    await initBackend({ env: { CLAFUSION_BACKEND: 'cpu' } });
    try {
      const onCpu = await train(model, data, options);
      for (const [name, t] of onCpu.model.params) {
        expect(maxRelDiff(onWasm.model.params.get(name)!.data, t.data), name).toBeLessThan(1e-4);
      }
    } finally {
      await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
    }
  });
});

describe('training CNNs on Fashion-MNIST (wasm)', () => {
  let trainSet: LabeledData & { y: Int32Array };
  let testSet: LabeledData;

  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
    const d = await loadDataset('fashion-mnist:train', { limit: 800, pad: 2, channels: 3, normalize: 'fashion-mnist' });
    const per = 3 * 32 * 32;
    trainSet = { x: { shape: [600, 3, 32, 32], data: d.x.data.subarray(0, 600 * per) }, y: d.y!.subarray(0, 600) };
    testSet = { x: { shape: [200, 3, 32, 32], data: d.x.data.subarray(600 * per) }, y: d.y!.subarray(600) };
  });

  it('a tiny VGG with BatchNorm learns: loss falls, accuracy far above chance', async () => {
    const arch: VggArch = { family: 'vgg', input: [32, 32, 3], config: [8, 'M', 16, 'M', 16, 'M', 16, 'M'], classes: 10, bias: false, batchnorm: true };
    const initial = initModel(arch, 1);
    const result = await train(initial, trainSet, { lr: 0.05, momentum: 0.9, batchSize: 32, epochs: 2, seed: 1, eval: testSet });
    const [e1, e2] = result.history;
    expect(e2.loss).toBeLessThan(e1.loss);
    expect(e2.trainAccuracy).toBeGreaterThan(0.5);
    expect(e2.evalAccuracy).toBeGreaterThan(0.45);
    // evalAccuracy is measured in eval mode, on the running statistics the returned model holds.
    expect(accuracy(result.model, testSet)).toBeCloseTo(e2.evalAccuracy!, 10);
    expect(accuracy(initial, testSet)).toBeLessThan(0.25);
  });

  it('a tiny ResNet with BatchNorm and a strided shortcut learns', async () => {
    const arch: ResNetArch = { family: 'resnet', input: [32, 32, 3], blocks: [1, 1], widths: [8, 16], classes: 10, bias: false, batchnorm: true };
    const result = await train(initModel(arch, 1), trainSet, { lr: 0.1, momentum: 0.9, batchSize: 32, epochs: 2, seed: 1, eval: testSet });
    const [e1, e2] = result.history;
    expect(e2.loss).toBeLessThan(e1.loss - 0.2);
    expect(e2.trainAccuracy).toBeGreaterThan(0.25);
    // Early in training the running statistics lag the fast-moving weights,
    // so eval mode trails training mode; it is still above chance (0.1).
    expect(e2.evalAccuracy).toBeGreaterThan(0.15);
  });

  it('is reproducible: the same seed gives identical weights and running statistics', async () => {
    const arch: ResNetArch = { family: 'resnet', input: [32, 32, 3], blocks: [1, 1], widths: [4, 8], classes: 10, bias: true, batchnorm: true };
    const small: LabeledData = { x: { shape: [48, 3, 32, 32], data: trainSet.x.data.subarray(0, 48 * 3072) }, y: trainSet.y.subarray(0, 48) };
    const run = (seed: number) => train(initModel(arch, 2), small, { lr: 0.05, momentum: 0.9, epochs: 1, seed, batchSize: 16 });
    const [a, b, c] = [await run(5), await run(5), await run(6)];
    for (const [name, t] of a.model.params) expect(b.model.params.get(name)!.data, name).toEqual(t.data);
    expect([...a.model.params].some(([name, t]) => maxRelDiff(c.model.params.get(name)!.data, t.data) > 1e-3)).toBe(true);
    expect(a.history).toEqual(b.history);
  });
});
