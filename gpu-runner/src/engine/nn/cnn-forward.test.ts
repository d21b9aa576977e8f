import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../runtime/backend.ts';
import { type Model, type ResNetArch, type VggArch, layerSpecs, paramSpecs } from '@clafusion/model-format/arch';
import { Rng } from '../rng.ts';
import { type Tensor32, numel } from '@clafusion/model-format/tensor';
import { referenceResNet, referenceVgg } from './cnn-reference.fixture.ts';
import { predictionEnsemble } from './evaluate.ts';
import { forward, modelOutput } from './forward.ts';
import { initModel } from './init.ts';
import { tapShapes } from './layers.ts';

function randomInput(rng: Rng, shape: number[]): Tensor32 {
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { shape, data };
}

/** Initialised weights, and BatchNorm tensors moved off their trivial initial values. */
function randomModel<M extends Model>(arch: M['arch'], seed: number): M {
  const model = initModel(arch, seed);
  const rng = new Rng(seed + 1000);
  for (const spec of paramSpecs(arch)) {
    const t = model.params.get(spec.name)!;
    if (spec.role === 'bn.weight') rng.fillUniform(t.data, 0.5, 1.5);
    if (spec.role === 'bn.bias' || spec.role === 'bn.running_mean') for (let i = 0; i < t.data.length; i++) t.data[i] = 0.3 * rng.normal();
    if (spec.role === 'bn.running_var') rng.fillUniform(t.data, 0.2, 2);
  }
  return model as M;
}

function relError(a: Float32Array, ref: Float64Array): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - ref[i]));
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  return maxDiff / maxRef;
}

const VGGS: Array<[string, VggArch]> = [
  ['plain, final map 2×2', { family: 'vgg', input: [8, 8, 3], config: [4, 'M', 6, 6, 'M'], classes: 5, bias: false }],
  ['bias + BN + hidden FC, odd sizes', { family: 'vgg', input: [10, 10, 2], config: [3, 'M', 5, 'M'], fc: [7, 6], classes: 4, bias: true, batchnorm: true }],
  ['BN without bias, 1×1 final map', { family: 'vgg', input: [4, 4, 3], config: [3, 'M', 4, 'M'], classes: 3, bias: false, batchnorm: true }],
];

const RESNETS: Array<[string, ResNetArch]> = [
  // Stage 2 keeps the width but strides: its shortcut exists because of the stride alone.
  ['plain', { family: 'resnet', input: [8, 8, 3], blocks: [1, 2, 1], widths: [4, 4, 6], classes: 5, bias: false }],
  ['bias + BN', { family: 'resnet', input: [7, 7, 2], blocks: [2, 1], widths: [3, 5], classes: 4, bias: true, batchnorm: true }],
];

describe.each(['wasm', 'cpu'] as const)('CNN forward on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: backend } });
  });

  it.each(VGGS)('VGG %s matches the float64 reference, taps included', (_name, arch) => {
    const model = randomModel<Model & { arch: VggArch }>(arch, 3);
    const x = randomInput(new Rng(4), [7, arch.input[2], arch.input[0], arch.input[1]]);
    const ref = referenceVgg(model, x);
    const before = tf.memory().numTensors;
    const result = forward(model, x, { taps: true, batchSize: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.taps).toHaveLength(layerSpecs(arch).length);
    expect(result.tapShapes).toEqual(tapShapes(arch));
    result.taps!.forEach((tap, k) => {
      expect(result.tapWidths![k]).toBe(numel(result.tapShapes![k]));
      expect(tap.length).toBe(7 * result.tapWidths![k]);
      expect(relError(tap, ref[k])).toBeLessThan(1e-5);
    });
    expect(relError(result.logits, ref.at(-1)!)).toBeLessThan(1e-5);
    // CNN families return raw logits as their output.
    expect(modelOutput(model, x)).toEqual(result.logits);
  });

  it.each(RESNETS)('ResNet %s matches the float64 reference, taps included', (_name, arch) => {
    const model = randomModel<Model & { arch: ResNetArch }>(arch, 5);
    const x = randomInput(new Rng(6), [5, arch.input[2], arch.input[0], arch.input[1]]);
    const ref = referenceResNet(model, x);
    const before = tf.memory().numTensors;
    const result = forward(model, x, { taps: true, batchSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.tapShapes).toEqual(tapShapes(arch));
    expect(result.taps).toHaveLength(ref.length);
    result.taps!.forEach((tap, k) => {
      expect(tap.length).toBe(5 * numel(result.tapShapes![k]));
      expect(relError(tap, ref[k])).toBeLessThan(1e-5);
    });

    const post = forward(model, x, { taps: true, activations: 'post' });
    post.taps!.forEach((tap, k) => {
      const expected = k < ref.length - 1 ? ref[k].map((v) => Math.max(v, 0)) : ref[k];
      expect(relError(tap, expected)).toBeLessThan(1e-5);
    });
  });
});

describe('prediction ensemble of CNNs (wasm)', () => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
  });

  it('weights the raw logits of a VGG and a ResNet (no log-softmax for CNN families)', () => {
    const vgg = randomModel<Model & { arch: VggArch }>({ family: 'vgg', input: [8, 8, 3], config: [4, 'M'], classes: 5, bias: true }, 1);
    const resnet = randomModel<Model & { arch: ResNetArch }>(RESNETS[0][1], 2);
    const x = randomInput(new Rng(3), [6, 3, 8, 8]);
    const y = Int32Array.from([0, 1, 2, 3, 4, 0]);
    const result = predictionEnsemble([vgg, resnet], [0.25, 0.75], { x, y });
    const [a, b] = [referenceVgg(vgg, x).at(-1)!, referenceResNet(resnet, x).at(-1)!];
    const expected = a.map((v, i) => 0.25 * v + 0.75 * b[i]);
    expect(relError(result.scores, expected)).toBeLessThan(1e-5);
  });
});

describe('tapShapes', () => {
  it('gives [C, H, W] per conv and [width] per linear layer', () => {
    expect(tapShapes(VGGS[0][1])).toEqual([[4, 8, 8], [6, 4, 4], [6, 4, 4], [5]]);
    expect(tapShapes(VGGS[1][1])).toEqual([[3, 10, 10], [5, 5, 5], [7], [6], [4]]);
    // conv1; layer1.0 conv1, conv2; layer2.0 conv1, conv2, shortcut; layer2.1 …; layer3.0 … shortcut; linear.
    expect(tapShapes(RESNETS[0][1])).toEqual([
      [4, 8, 8],
      [4, 8, 8],
      [4, 8, 8],
      [4, 4, 4],
      [4, 4, 4],
      [4, 4, 4],
      [4, 4, 4],
      [4, 4, 4],
      [6, 2, 2],
      [6, 2, 2],
      [6, 2, 2],
      [5],
    ]);
    // 7 → 4 with a 3×3 stride-2 pad-1 conv, like PyTorch.
    expect(tapShapes(RESNETS[1][1]).slice(5, 8)).toEqual([[5, 4, 4], [5, 4, 4], [5, 4, 4]]);
  });

  it('matches ResNet18 on 32×32 (21 layers, stage sizes 32, 16, 8, 4)', () => {
    const arch: ResNetArch = { family: 'resnet', input: [32, 32, 3], blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], classes: 10, bias: false };
    const shapes = tapShapes(arch);
    expect(shapes).toHaveLength(21);
    expect(shapes[0]).toEqual([64, 32, 32]);
    expect(shapes[7]).toEqual([128, 16, 16]);
    expect(shapes[17]).toEqual([512, 4, 4]);
    expect(shapes[20]).toEqual([10]);
  });
});
