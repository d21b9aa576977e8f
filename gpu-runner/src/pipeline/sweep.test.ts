import { beforeAll, describe, expect, it } from 'vitest';
import { defaultFusionOptions } from '../engine/fusion/options.ts';
import { randomMlp } from '../../test/support/reference-mlp.ts';
import { initBackend } from '../runtime/backend.ts';
import { type FusionRequest, runFusion } from './run-fusion.ts';
import { evenWeights, runWeightSweep } from './sweep.ts';

const deep = randomMlp({ family: 'mlp', input: [6], hidden: [8, 7, 5], classes: 3, bias: false }, 1);
const shallow = randomMlp({ family: 'mlp', input: [6], hidden: [8, 5], classes: 3, bias: false }, 2);
const N = 60;
const x = { shape: [N, 6], data: new Float32Array(N * 6).map((_, i) => Math.sin(i * 0.7)) };
// Labels the deep model gets mostly right, so accuracies differ between weights.
const y = Int32Array.from({ length: N }, (_, i) => (i * 7) % 3);

const request = (models = [deep, shallow]): FusionRequest => ({
  models: models.map((model, i) => ({ model, label: `m${i + 1}` })),
  calibration: x,
  samples: 40,
  evaluation: { x, y },
  options: defaultFusionOptions('mlp'),
});
const ctx = { backend: 'test', now: () => 0 };

beforeAll(async () => {
  await initBackend();
});

describe('fusion-weight sweep', () => {
  it('spaces an even grid without float noise', () => {
    expect(evenWeights(11)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(evenWeights(2)).toEqual([0, 1]);
    expect(() => evenWeights(1)).toThrow(/at least 2 points/);
  });

  it('at each w measures exactly what a fusion with weights (w, 1 − w) measures, model 1 taking w', async () => {
    const steps: number[] = [];
    const sweep = await runWeightSweep(request(), [0, 0.25, 1], ctx, (s) => steps.push(s.weight));
    expect(steps).toEqual([0, 0.25, 1]);
    expect(sweep.weights).toEqual([0, 0.25, 1]);
    for (const [i, w] of sweep.weights.entries()) {
      const single = await runFusion({ ...request(), options: { ...defaultFusionOptions('mlp'), weights: [w, 1 - w] } }, ctx);
      expect(sweep.accuracy[i]).toBe(single.report.accuracy!.fused);
      expect(sweep.ensembleAccuracy![i]).toBe(single.report.accuracy!.ensemble);
    }
    // All weight on one model: the ensemble is that model alone.
    const alone = (await runFusion(request(), ctx)).report.accuracy!.models;
    expect(sweep.ensembleAccuracy![0]).toBe(alone[1]);
    expect(sweep.ensembleAccuracy![2]).toBe(alone[0]);
  });

  it('with REPAIR reports each weight before and after it, as single repaired fusions do', async () => {
    const repair = { ...request(), options: { ...defaultFusionOptions('mlp'), repair: true } };
    const sweep = await runWeightSweep(repair, [0.25, 0.75], ctx);
    expect(sweep.repairedAccuracy).toHaveLength(2);
    for (const [i, w] of sweep.weights.entries()) {
      const single = await runFusion({ ...repair, options: { ...repair.options, weights: [w, 1 - w] } }, ctx);
      expect(sweep.accuracy[i]).toBe(single.report.accuracy!.fused);
      expect(sweep.repairedAccuracy![i]).toBe(single.report.accuracy!.repaired);
    }
    expect((await runWeightSweep(request(), [0.5], ctx)).repairedAccuracy).toBeUndefined();
  });

  it('needs exactly two models, eval data and weights in [0, 1]', async () => {
    await expect(runWeightSweep(request([deep, shallow, shallow]), [0.5], ctx)).rejects.toThrow(/exactly two models, got 3/);
    await expect(runWeightSweep({ ...request(), evaluation: undefined }, [0.5], ctx)).rejects.toThrow(/needs labelled eval data/);
    await expect(runWeightSweep(request(), [0.5, 1.5], ctx)).rejects.toThrow(/must lie in \[0, 1\], got 1.5/);
  });
});
