import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../runtime/backend.ts';
import type { MlpArch, Model } from '@clafusion/model-format/arch';
import { isFusionError } from '@clafusion/model-format/errors';
import { loadDigits } from './digits.fixture.ts';
import { accuracy } from './evaluate.ts';
import { initModel } from './init.ts';
import { type TrainProgress, train } from './train.ts';

const arch: MlpArch = { family: 'mlp', input: [1, 28, 28], hidden: [100], classes: 10, bias: false };
// The paper's MLP recipe (docs/algorithm.md §1.1), shortened to two epochs.
const recipe = { lr: 0.01, momentum: 0.5, batchSize: 64 };

function sameParams(a: Model, b: Model): boolean {
  return [...a.params].every(([name, t]) => {
    const u = b.params.get(name)!.data;
    return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(
      Buffer.from(u.buffer, u.byteOffset, u.byteLength),
    );
  });
}

describe('train on real digits (wasm)', () => {
  const trainSet = loadDigits(400); // 4,000 images
  const testSet = loadDigits(100, 700); // 1,000 other images

  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
  });

  it('learns: the loss falls and accuracy rises far above chance, without leaking tensors', async () => {
    const initial = initModel(arch, 0);
    const before = tf.memory().numTensors;
    const progress: TrainProgress[] = [];
    const result = await train(initial, trainSet, {
      ...recipe,
      epochs: 2,
      seed: 1,
      eval: testSet,
      onProgress: (p) => progress.push(p),
    });
    expect(tf.memory().numTensors).toBe(before);

    const [e1, e2] = result.history;
    expect(progress).toHaveLength(2 * 63);
    expect(progress[0]).toMatchObject({ epoch: 1, batch: 1, batches: 63 });
    expect(progress.at(-1)).toMatchObject({ epoch: 2, batch: 63, batches: 63 });
    // The first batches start near ln 10 ≈ 2.30 (uniform predictions).
    expect(progress[0].loss).toBeGreaterThan(1.8);
    expect(e2.loss).toBeLessThan(e1.loss);
    expect(e2.loss).toBeLessThan(0.8);
    expect(e2.trainAccuracy).toBeGreaterThan(e1.trainAccuracy);
    expect(e2.evalAccuracy).toBeGreaterThan(0.8);
    expect(accuracy(initial, testSet)).toBeLessThan(0.3);
    expect(accuracy(result.model, testSet)).toBeCloseTo(e2.evalAccuracy!, 10);
    expect(result.best!.epoch).toBe(e2.evalAccuracy! > e1.evalAccuracy! ? 2 : 1);
    expect(accuracy(result.best!.model, testSet)).toBeCloseTo(result.best!.evalAccuracy, 10);
  });

  it('is reproducible: the same seed gives identical weights, another seed different ones', async () => {
    const small = loadDigits(60);
    const run = (seed: number) => train(initModel(arch, 2), small, { ...recipe, epochs: 1, seed });
    const [a, b, c] = [await run(5), await run(5), await run(6)];
    expect(sameParams(a.model, b.model)).toBe(true);
    expect(sameParams(a.model, c.model)).toBe(false);
    expect(a.history).toEqual(b.history);
  });

  it('follows the lr schedule per epoch and stops when aborted', async () => {
    const tiny = loadDigits(5);
    const { history } = await train(initModel(arch, 3), tiny, {
      lr: 0.1,
      epochs: 4,
      seed: 0,
      batchSize: 16,
      schedule: { milestones: [1, 3], gamma: 0.5 },
    });
    expect(history.map((h) => h.lr)).toEqual([0.1, 0.05, 0.05, 0.025]);

    const controller = new AbortController();
    const before = tf.memory().numTensors;
    const run = train(initModel(arch, 3), tiny, {
      lr: 0.1,
      epochs: 3,
      seed: 0,
      batchSize: 10,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.batch === 2) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects labels outside the classes and bad options', async () => {
    const tiny = loadDigits(1);
    const badLabels = { x: tiny.x, y: Int32Array.from(tiny.y, (v) => (v === 9 ? 10 : v)) };
    for (const [data, options, field] of [
      [badLabels, { lr: 0.1, epochs: 1, seed: 0 }, 'train.y'],
      [tiny, { lr: -1, epochs: 1, seed: 0 }, 'lr'],
      [tiny, { lr: 0.1, epochs: 1.5, seed: 0 }, 'epochs'],
    ] as const) {
      const error = await train(initModel(arch, 0), data, options).catch((e: unknown) => e);
      expect(isFusionError(error)).toBe(true);
      expect(JSON.stringify(isFusionError(error) ? error.details : {})).toContain(field);
    }
  });
});
