import { describe, expect, it } from 'vitest';
import { defaultFusionOptions } from './options.ts';

// The OT part of the paper's configuration (docs/algorithm.md §0.2, §7): defaults must not drift.
describe('default fusion options (spec §0.2)', () => {
  for (const family of ['mlp', 'vgg', 'resnet'] as const) {
    it(`${family}: exact EMD, correction, past correction, Euclidean not squared, no normalisation, OT on the output layer, plain average`, () => {
      const o = defaultFusionOptions(family);
      expect(o.fusion).toBe('ot-activations');
      expect(o.solver).toEqual({ kind: 'exact' });
      expect(o.correction).toBe(true);
      expect(o.pastCorrection).toBe(true);
      expect(o.groundMetric.metric).toBe('euclidean');
      expect(o.groundMetric.squared).toBe(false);
      // The parser's default is log; the scripts pass --ground-metric-normalize none.
      expect(o.groundMetric.normalize).toBe('none');
      // --ground-metric-eff (with --dist-normalize) only in the CNN scripts.
      expect(o.groundMetric.efficient).toBe(family !== 'mlp');
      expect(o.outputLayer).toBe('align');
      expect(o.weights).toBeNull();
      expect(o.activations).toBe('pre');
      // --handle-skips only in the ResNet scripts.
      expect(o.handleSkips).toBe(family === 'resnet');
    });
  }
});
