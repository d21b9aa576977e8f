import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataParallelTrainer } from './data-parallel.ts';
import { registerWasmTrainingKernels } from './index.ts';
import { SgdTrainer } from './trainer.ts';
import { initParams, tinyCnn } from './training-nets.ts';

function batch(n: number, seed: number): { x: Float32Array; labels: Int32Array } {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const x = Float32Array.from({ length: n * 32 * 32 * 3 }, () => next() * 2 - 1);
  const labels = Int32Array.from({ length: n }, () => Math.floor(next() * 10));
  return { x, labels };
}

describe('DataParallelTrainer', () => {
  let parallel: DataParallelTrainer;
  beforeAll(async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(async () => {
    await parallel?.close();
  });

  it('two workers on half batches give the same parameters as one trainer on the full batch', async () => {
    const net = tinyCnn();
    const initial = initParams(net, 7);
    const single = new SgdTrainer(net, initial, 0.05);
    parallel = await DataParallelTrainer.create({ net: net.name, initial, learningRate: 0.05, workers: 2 });
    // An odd batch size exercises unequal shards (the average must be weighted by shard size).
    for (const [n, seed] of [[16, 1], [15, 2], [16, 3]]) {
      const { x, labels } = batch(n, seed);
      const lossSingle = single.step(x, labels);
      const lossParallel = await parallel.step(x.slice(), labels.slice());
      expect(Math.abs(lossParallel - lossSingle)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lossSingle)));
    }
    const a = single.snapshot();
    const b = await parallel.parameters();
    let moved = 0;
    for (let i = 0; i < a.length; i++) {
      let scale = 1e-3;
      for (const v of a[i]) scale = Math.max(scale, Math.abs(v));
      for (let e = 0; e < a[i].length; e++) {
        expect(Math.abs(a[i][e] - b[i][e]) / scale).toBeLessThan(1e-4);
        moved = Math.max(moved, Math.abs(a[i][e] - initial[i][e]));
      }
    }
    // The comparison is only meaningful if training actually changed the parameters.
    expect(moved).toBeGreaterThan(1e-3);
    single.dispose();
  });
});
