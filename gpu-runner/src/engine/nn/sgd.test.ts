import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../runtime/backend.ts';
import type { MlpArch, Model } from '@clafusion/model-format/arch';
import { multiStepLr } from './schedule.ts';
import { Sgd } from './sgd.ts';
import { train } from './train.ts';

/** Float32 agreement with a float64 hand computation. */
function expectClose(actual: ArrayLike<number>, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(actual[i] - e)).toBeLessThan(2e-7 * Math.max(1, Math.abs(e))));
}

describe.each(['wasm', 'cpu'] as const)('SGD on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: backend } });
  });

  it('applies PyTorch’s update with momentum and weight decay over two steps', () => {
    // p0 = [1, −2, 0.5], lr 0.1, μ 0.9, wd 0.01, g1 = [0.5, 0.25, −1], g2 = [−0.5, 1, 2]
    // step 1: v1 = g1 + wd·p0 = [0.51, 0.23, −0.995];   p1 = p0 − lr·v1 = [0.949, −2.023, 0.5995]
    // step 2: v2 = μ·v1 + g2 + wd·p1 = [−0.03151, 1.18677, 1.110495]
    //         p2 = p1 − lr·v2 = [0.952151, −2.141677, 0.4884505]
    const p = tf.variable(tf.tensor1d([1, -2, 0.5]));
    const sgd = new Sgd([p], { momentum: 0.9, weightDecay: 0.01 });
    const before = tf.memory().numTensors;
    tf.tidy(() => sgd.step([tf.tensor1d([0.5, 0.25, -1])], 0.1));
    expectClose(p.dataSync(), [0.949, -2.023, 0.5995]);
    tf.tidy(() => sgd.step([tf.tensor1d([-0.5, 1, 2])], 0.1));
    expectClose(p.dataSync(), [0.952151, -2.141677, 0.4884505]);
    // One momentum buffer was created on the first step; nothing else stays.
    expect(tf.memory().numTensors).toBe(before + 1);
    sgd.dispose();
    p.dispose();
  });

  it('without momentum or weight decay is plain p − lr·g', () => {
    const p = tf.variable(tf.tensor1d([1, 2]));
    const sgd = new Sgd([p]);
    tf.tidy(() => sgd.step([tf.tensor1d([3, -4])], 0.5));
    tf.tidy(() => sgd.step([tf.tensor1d([1, 1])], 0.5));
    expectClose(p.dataSync(), [1 - 1.5 - 0.5, 2 + 2 - 0.5]);
    sgd.dispose();
    p.dispose();
    expect(() => new Sgd([], { momentum: -1 })).toThrow(/momentum/);
  });

  it('train() takes exactly the hand-computed steps through softmax cross-entropy', async () => {
    // A linear classifier z = W·x + b with W = 0, b = 0, one sample x = [1, 2]
    // of class 0; lr 0.1, μ 0.5, wd 0.1.
    // Step 1: p = softmax(0) = [½, ½]; ∂L/∂z = p − onehot = [−½, ½];
    //   gW = (p − y)·xᵀ = [[−½, −1], [½, 1]], gb = [−½, ½]; wd·0 = 0, so
    //   v1 = g, W1 = −0.1·g = [[0.05, 0.1], [−0.05, −0.1]], b1 = [0.05, −0.05].
    // Step 2: z = W1·x + b1 = [0.3, −0.3], p0 = σ(0.6) = 0.6456563062;
    //   r = p0 − 1 = −0.3543436938; gW = [[r, 2r], [−r, −2r]], gb = [r, −r];
    //   v2 = 0.5·v1 + g + 0.1·(W1, b1): v2[0][0] = −0.25 + r + 0.005 = −0.5993436938
    //   W2[0][0] = 0.05 + 0.05993436938 = 0.1099343694, and by symmetry the rest.
    const arch: MlpArch = { family: 'mlp', input: [2], hidden: [], classes: 2, bias: true };
    const zero: Model = {
      arch,
      params: new Map([
        ['fc1.weight', { shape: [2, 2], data: new Float32Array(4) }],
        ['fc1.bias', { shape: [2], data: new Float32Array(2) }],
      ]),
    };
    const w = 0.10993436937742046;
    const expectedW = [w, 2 * w, -w, -2 * w];
    const expectedB = [w, -w];
    const options = { lr: 0.1, momentum: 0.5, weightDecay: 0.1, epochs: 2, seed: 0 };

    const one = await train(zero, { x: { shape: [1, 2], data: new Float32Array([1, 2]) }, y: [0] }, { ...options, batchSize: 1 });
    expectClose(one.model.params.get('fc1.weight')!.data, expectedW);
    expectClose(one.model.params.get('fc1.bias')!.data, expectedB);
    expect(one.history.map((h) => h.loss)).toEqual([expect.closeTo(Math.LN2, 6), expect.closeTo(0.4374879505, 6)]);
    expect(one.history.map((h) => h.lr)).toEqual([0.1, 0.1]);

    // The same sample twice in one batch: the loss is a mean, so the step is identical.
    const twice = await train(
      zero,
      { x: { shape: [2, 2], data: new Float32Array([1, 2, 1, 2]) }, y: [0, 0] },
      { ...options, batchSize: 2 },
    );
    expectClose(twice.model.params.get('fc1.weight')!.data, expectedW);
    // The input model is untouched.
    expect([...zero.params.get('fc1.weight')!.data]).toEqual([0, 0, 0, 0]);
  });
});

describe('multiStepLr', () => {
  it('decays by gamma at each milestone, stepped per completed epoch like PyTorch', () => {
    const s = multiStepLr([20, 40, 60, 80, 100], 0.5);
    expect([0, 19, 20, 39, 40, 100, 119].map((e) => s(e, 0.1))).toEqual([
      0.1, 0.1, 0.05, 0.05, 0.025, 0.1 / 32, 0.1 / 32,
    ]);
    expect(multiStepLr([2, 2], 0.1)(2, 1)).toBeCloseTo(0.01, 15);
    expect(() => multiStepLr([0], 0.5)).toThrow(/milestones/);
    expect(() => multiStepLr([1], 0)).toThrow(/gamma/);
  });
});
