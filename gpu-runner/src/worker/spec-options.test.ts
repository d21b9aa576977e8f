import { afterAll, describe, expect, it } from 'vitest';
import { type DistillSpec, type FinetuneSpec, FusionSpec as FusionSpecSchema, type FusionSpec, TRAINING_PRESETS } from '@clafusion/contract';
import { Args, parseArgs } from '../cli/args.ts';
import { DATA_FLAGS } from '../cli/data-arg.ts';
import { DISTILL_FLAGS, distillRequestFromArgs } from '../cli/distill-flags.ts';
import { FINETUNE_FLAGS, finetuneRequestFromArgs } from '../cli/finetune-flags.ts';
import { FUSION_FLAGS, fusionOptionsFromArgs } from '../cli/fusion-flags.ts';
import { PRESETS } from '../engine/nn/presets.ts';
import { distillRequestFromSpec, finetuneRequestFromSpec, fusionOptionsFromSpec } from './spec-options.ts';
import { writeTrainSet } from './train-set.fixture.ts';

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
  [['--handle-skips', 'on', '--bn-reestimate', 'off', '--repair', 'on'], { handle_skips: true, bn_reestimate: false, repair: true }],
  [['--handle-skips', 'off', '--bn-reestimate', 'on', '--repair', 'off'], { handle_skips: false, bn_reestimate: true, repair: false }],
];

describe('fusionOptionsFromSpec', () => {
  for (const family of ['mlp', 'vgg', 'resnet'] as const) {
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

describe('finetuneRequestFromSpec', () => {
  const trainSet = writeTrainSet('clafusion-spec-finetune-');
  const { path: trainPath, data } = trainSet;
  afterAll(trainSet.remove);

  const FLAGS = { ...FUSION_FLAGS, ...FINETUNE_FLAGS, ...DATA_FLAGS };
  const train = { file: 'file_3000000000000000000000000' };
  /** Each case: `fuse` flags (besides --train) and the finetune section and seed that mean the same. */
  const PAIRS: [string[], FinetuneSpec, number?][] = [
    [['--finetune', '1'], { epochs: 1, train }],
    [['--finetune', '0'], { epochs: 0, train }],
    [['--finetune', '3', '--seed', '7'], { epochs: 3, train }, 7],
    [
      ['--finetune', '2', '--finetune-preset', 'finetune-vgg-cifar', '--lr', '0.05', '--momentum', '0.8', '--weight-decay', '0.001', '--batch', '3'],
      { epochs: 2, train, preset: 'finetune-vgg-cifar', lr: 0.05, momentum: 0.8, weight_decay: 0.001, batch_size: 3 },
    ],
    [['--finetune', '1', '--augment', 'on', '--augment-fill', '0.5'], { epochs: 1, train, augment: true, augment_fill: 0.5 }],
    [['--finetune', '1', '--augment', 'off', '--augment-fill', '-1,0,1'], { epochs: 1, train, augment: false, augment_fill: [-1, 0, 1] }],
    [['--finetune', '1', '--finetune-models', 'all'], { epochs: 1, train, models: 'all' }],
    [['--finetune', '1', '--finetune-models', 'fused'], { epochs: 1, train, models: 'fused' }],
  ];

  for (const [flags, finetune, seed] of PAIRS) {
    it(`${flags.join(' ')} gives the CLI's request`, async () => {
      const cli = await finetuneRequestFromArgs(new Args(parseArgs([...flags, '--train', trainPath], FLAGS)));
      const spec = finetuneRequestFromSpec({ ...base, finetune, ...(seed === undefined ? {} : { seed }) }, data);
      expect(spec).toEqual(cli);
    });
  }

  it('is undefined without a finetune section, as fuse is without --finetune', async () => {
    expect(finetuneRequestFromSpec(base, data)).toBeUndefined();
    expect(await finetuneRequestFromArgs(new Args(parseArgs([], FLAGS)))).toBeUndefined();
  });

  it("lists the engine's presets in the contract", () => {
    expect([...TRAINING_PRESETS].sort()).toEqual(Object.keys(PRESETS).sort());
  });
});

describe('distillRequestFromSpec', () => {
  const trainSet = writeTrainSet('clafusion-spec-distill-');
  const { path: trainPath, data } = trainSet;
  afterAll(trainSet.remove);

  const FLAGS = { ...FUSION_FLAGS, ...FINETUNE_FLAGS, ...DISTILL_FLAGS, ...DATA_FLAGS };
  const train = { file: 'file_3000000000000000000000000' };
  const kd = ['--alpha', '0.7', '--temperature', '4'];
  /** Each case: `fuse` flags (besides --train) and the distill section and seed that mean the same. */
  const PAIRS: [string[], DistillSpec, number?][] = [
    [['--distill', '1', ...kd], { epochs: 1, train, alpha: 0.7, temperature: 4 }],
    [['--distill', '0', '--alpha', '0', '--temperature', '1'], { epochs: 0, train, alpha: 0, temperature: 1 }],
    [['--distill', '3', ...kd, '--seed', '7'], { epochs: 3, train, alpha: 0.7, temperature: 4 }, 7],
    [['--distill', '2', ...kd, '--distill-teachers', 'deeper'], { epochs: 2, train, alpha: 0.7, temperature: 4, teachers: 'deeper' }],
    [['--distill', '2', ...kd, '--distill-teachers', 'inputs'], { epochs: 2, train, alpha: 0.7, temperature: 4, teachers: 'inputs' }],
    [
      ['--distill', '2', ...kd, '--distill-preset', 'distill-vgg-cifar', '--lr', '0.05', '--momentum', '0.8', '--weight-decay', '0.001', '--batch', '3'],
      { epochs: 2, train, alpha: 0.7, temperature: 4, preset: 'distill-vgg-cifar', lr: 0.05, momentum: 0.8, weight_decay: 0.001, batch_size: 3 },
    ],
    [['--distill', '1', ...kd, '--augment', 'on', '--augment-fill', '-1,0,1'], { epochs: 1, train, alpha: 0.7, temperature: 4, augment: true, augment_fill: [-1, 0, 1] }],
  ];

  for (const [flags, distill, seed] of PAIRS) {
    it(`${flags.join(' ')} gives the CLI's request`, async () => {
      const args = new Args(parseArgs([...flags, '--train', trainPath], FLAGS));
      const cli = await distillRequestFromArgs(args);
      expect(await finetuneRequestFromArgs(args)).toBeUndefined();
      const spec = distillRequestFromSpec({ ...base, distill, ...(seed === undefined ? {} : { seed }) }, data);
      expect(spec).toEqual(cli);
    });
  }

  it('is undefined without a distill section, as fuse is without --distill', async () => {
    expect(distillRequestFromSpec(base, data)).toBeUndefined();
    expect(await distillRequestFromArgs(new Args(parseArgs([], FLAGS)))).toBeUndefined();
  });

  it('refuses what the contract refuses, with one-line usage errors', async () => {
    const usage = (flags: string[]) => {
      const args = new Args(parseArgs(flags, FLAGS));
      return (async () => {
        await finetuneRequestFromArgs(args);
        return distillRequestFromArgs(args);
      })();
    };
    await expect(usage(['--distill', '1', '--finetune', '1', '--train', trainPath, ...kd])).rejects.toThrow(/^--finetune and --distill exclude each other/);
    await expect(usage(['--distill', '1', ...kd])).rejects.toThrow(/^--distill needs --train DATA/);
    await expect(usage(['--distill', '1', '--train', trainPath, '--temperature', '4'])).rejects.toThrow(/^--distill needs --alpha/);
    await expect(usage(['--distill', '1', '--train', trainPath, '--alpha', '0.5'])).rejects.toThrow(/^--distill needs --temperature/);
    await expect(usage(['--distill', '1', '--train', trainPath, '--alpha', '1.5', '--temperature', '4'])).rejects.toThrow(/--alpha must be between 0 and 1/);
    await expect(usage(['--distill', '1', '--train', trainPath, '--alpha', '0.5', '--temperature', '0'])).rejects.toThrow(/--temperature must be a positive number/);
    await expect(usage(['--distill', '1', '--train', trainPath, ...kd, '--distill-teachers', 'all'])).rejects.toThrow(/--distill-teachers/);
    await expect(usage(['--distill', '1', '--train', trainPath, ...kd, '--finetune-models', 'all'])).rejects.toThrow(/^--finetune-models only applies with --finetune/);
    await expect(usage(['--alpha', '0.5'])).rejects.toThrow(/^--alpha only applies with --distill EPOCHS/);
    await expect(usage(['--finetune', '1', '--train', trainPath, '--distill-teachers', 'deeper'])).rejects.toThrow(/^--distill-teachers only applies with --distill/);

    const spec = { ...base, distill: { epochs: 1, train, alpha: 0.5, temperature: 2 } };
    expect(FusionSpecSchema.safeParse(spec).success).toBe(true);
    for (const bad of [{ alpha: 1.5 }, { alpha: -0.1 }, { temperature: 0 }, { teachers: 'all' }, { epochs: -1 }, { preset: 'magic' }]) {
      expect(FusionSpecSchema.safeParse({ ...spec, distill: { ...spec.distill, ...bad } }).success).toBe(false);
    }
  });
});
