import { describe, expect, it } from 'vitest';
import type { FusionSpec } from '../../../api/src/contract/index.ts';
import { Args, parseArgs } from '../cli/args.ts';
import { FUSION_FLAGS, fusionOptionsFromArgs } from '../cli/fusion-flags.ts';
import { fusionOptionsFromSpec } from './spec-options.ts';

const base: FusionSpec = { models: ['file_0000000000000000000000000', 'file_1000000000000000000000000'], calibration: { file: 'file_2000000000000000000000000' } };

/** Each case: CLI flags and the spec fields that mean the same. */
const CASES: [string[], FusionSpec['fusion'], number?][] = [
  [[], undefined],
  [['--layer-cost', 'cka', '--first-constraint', 'off'], { layer_cost: 'cka', mapping: { kind: 'cla', first_constraint: false } }],
  [['--mapping', 'chain', '--balance', 'merge', '--merge-estimator', 'majority'], { mapping: { kind: 'chain' }, balance: 'merge', merge_estimator: 'majority' }],
  [['--mapping', '1,2,5'], { mapping: { kind: 'explicit', layers: [1, 2, 5] } }],
  [['--mapping', 'random', '--seed', '42'], { mapping: { kind: 'random' } }, 42],
  [['--fusion', 'ot-weights', '--weights', '0.3,0.7', '--output-layer', 'average'], { method: 'ot-weights', weights: [0.3, 0.7], output_layer: 'average' }],
  [
    ['--ground-metric', 'cosine', '--squared', 'on', '--ground-metric-normalize', 'max', '--efficient-metric', 'on'],
    { ground_metric: { metric: 'cosine', squared: true, normalize: 'max', efficient: true } },
  ],
  [['--solver', 'sinkhorn', '--sinkhorn-reg', '0.05'], { solver: { kind: 'sinkhorn', reg: 0.05 } }],
  [['--solver', 'sinkhorn'], { solver: { kind: 'sinkhorn' } }],
  [['--correction', 'off', '--past-correction', 'off', '--activations', 'post'], { correction: false, past_correction: false, activations: 'post' }],
];

describe('fusionOptionsFromSpec', () => {
  for (const family of ['mlp', 'vgg'] as const) {
    for (const [flags, fusion, seed] of CASES) {
      it(`${family}: ${flags.join(' ') || '(defaults)'} gives the CLI's options`, () => {
        const cli = fusionOptionsFromArgs(new Args(parseArgs(flags, FUSION_FLAGS)), family, 2);
        const spec = fusionOptionsFromSpec({ ...base, ...(fusion ? { fusion } : {}), ...(seed === undefined ? {} : { seed }) }, family, 2);
        expect(spec).toEqual(cli);
      });
    }
  }

  it('takes the anchor 1-based, as --anchor does', () => {
    const models = [...base.models, 'file_3000000000000000000000000'];
    const cli = fusionOptionsFromArgs(new Args(parseArgs(['--anchor', '3'], FUSION_FLAGS)), 'mlp', 3);
    expect(fusionOptionsFromSpec({ ...base, models, fusion: { anchor: 3 } }, 'mlp', 3)).toEqual(cli);
  });

  it('refuses weights that do not match the models, as the CLI does', () => {
    expect(() => fusionOptionsFromSpec({ ...base, fusion: { weights: [1] } }, 'mlp', 2)).toThrow(/1 entries but 2 models/);
  });
});
