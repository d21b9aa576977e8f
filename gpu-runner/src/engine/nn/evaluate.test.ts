import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../runtime/backend.ts';
import type { MlpArch, Model } from '@clafusion/model-format/arch';
import { isFusionError } from '@clafusion/model-format/errors';
import type { LabeledData } from './data.ts';
import { accuracy, predictionEnsemble } from './evaluate.ts';

/**
 * A linear classifier over one-hot inputs: sample i = e_i, so the logits of
 * sample i are column i of W, set to log-probabilities chosen by hand.
 */
function linearModel(columns: number[][]): Model {
  const classes = columns[0].length;
  const inputs = columns.length;
  const arch: MlpArch = { family: 'mlp', input: [inputs], hidden: [], classes, bias: false };
  const w = new Float32Array(classes * inputs);
  columns.forEach((probs, i) => probs.forEach((p, c) => (w[c * inputs + i] = Math.log(p))));
  return { arch, params: new Map([['fc1.weight', { shape: [classes, inputs], data: w }]]) };
}

function oneHotSamples(n: number, y: number[]): LabeledData {
  const x = new Float32Array(n * n);
  for (let i = 0; i < n; i++) x[i * n + i] = 1;
  return { x: { shape: [n, n], data: x }, y };
}

describe('evaluation (wasm)', () => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
  });

  // Sample 0: A says [0.9, 0.1, ~0], B says [0.001, 0.3, 0.699]. Averaging
  // probabilities would pick class 0 (0.4505); averaging log-probabilities
  // (the official MLP ensemble) picks class 1, the one both find plausible.
  // Sample 1: both models agree on class 2.
  const a = linearModel([
    [0.9, 0.1, 1e-6],
    [0.1, 0.2, 0.7],
  ]);
  const b = linearModel([
    [0.001, 0.3, 0.699],
    [0.2, 0.1, 0.7],
  ]);
  const data = oneHotSamples(2, [1, 2]);

  it('accuracy is the fraction of argmax hits', () => {
    expect(accuracy(a, data)).toBe(0.5);
    expect(accuracy(b, data)).toBe(0.5);
  });

  it('the ensemble averages log-softmax outputs, then takes the argmax', () => {
    const before = tf.memory().numTensors;
    const even = predictionEnsemble([a, b], undefined, data);
    expect(tf.memory().numTensors).toBe(before);
    expect([...even.predictions]).toEqual([1, 2]);
    expect(even.accuracy).toBe(1);
    // scores are ½·log p_A + ½·log p_B (the columns are normalised, so log-softmax = log p).
    expect(even.scores[1]).toBeCloseTo(0.5 * Math.log(0.1) + 0.5 * Math.log(0.3), 5);

    // --prediction-wts (1 − s_e, s_e) with s_e = 0.99 leans on B, which picks class 2.
    const leaning = predictionEnsemble([a, b], [0.01, 0.99], data);
    expect([...leaning.predictions]).toEqual([2, 2]);
    expect(leaning.accuracy).toBe(0.5);
  });

  it('combines models of different depths, and rejects incompatible ones', () => {
    // A deeper model computing the same as `a`: the hidden layer copies the
    // (non-negative) one-hot input, the classifier is a's weights.
    const deepArch: MlpArch = { family: 'mlp', input: [2], hidden: [2], classes: 3, bias: false };
    const deep: Model = {
      arch: deepArch,
      params: new Map([
        ['fc1.weight', { shape: [2, 2], data: new Float32Array([1, 0, 0, 1]) }],
        ['fc2.weight', a.params.get('fc1.weight')!],
      ]),
    };
    const mixed = predictionEnsemble([deep, b], undefined, data);
    expect([...mixed.predictions]).toEqual([1, 2]);

    const fourClasses = linearModel([
      [0.25, 0.25, 0.25, 0.25],
      [0.25, 0.25, 0.25, 0.25],
    ]);
    const codes = [
      () => predictionEnsemble([a, fourClasses], undefined, data),
      () => predictionEnsemble([a, b], [1], data),
      () => predictionEnsemble([], undefined, data),
    ].map((f) => {
      try {
        f();
        return 'no error';
      } catch (e) {
        return isFusionError(e) ? e.code : String(e);
      }
    });
    expect(codes).toEqual(['INCOMPATIBLE_MODELS', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
  });
});
