/**
 * Every declared fusion option (@clafusion/contract/options), given as its
 * CLI flag and as its API field, resolves to the same engine options; every
 * declared training option (finetune/distill, training-options.ts), given as
 * its `fuse` flag and as its field of the spec's section, to the same
 * pipeline request and settings. The
 * cases are generated from the declaration: a new option is covered the
 * moment it is declared, and one that is declared but not wired through
 * either surface (or wired differently) fails here.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DistillSpec as DistillSpecSchema, FinetuneSpec as FinetuneSpecSchema, FusionSpec as FusionSpecSchema, type FusionSpec } from '@clafusion/contract';
import {
  FUSION_OPTIONS,
  FUSION_OPTION_NAMES,
  TRAINING_OPTIONS,
  TRAINING_SECTION_NAMES,
  type FusionOptionName,
  type OptionDeclaration,
  type OptionType,
  type TrainingOptionDeclaration,
  type TrainingOptionType,
  type TrainingOptionName,
  type TrainingSection,
  fusionOptionValuesFromSpec,
  optionDefault,
  presetFieldOf,
  trainingFieldOf,
  trainingFlagOf,
  trainingOptionsOf,
} from '@clafusion/contract/options';
import { DATA_FLAGS } from '../cli/data-arg.ts';
import { DISTILL_FLAGS, distillRequestFromArgs } from '../cli/distill-flags.ts';
import { FINETUNE_FLAGS, finetuneRequestFromArgs } from '../cli/finetune-flags.ts';
import { PRESETS, defaultPreset } from '../engine/nn/presets.ts';
import { resolveTrainingSettings } from '../pipeline/training-settings.ts';
import { Args, UsageError, parseArgs } from '../cli/args.ts';
import { FUSION_FLAGS, fusionOptionValuesFromArgs, fusionOptionsFromArgs } from '../cli/fusion-flags.ts';
import { FusionError } from '@clafusion/model-format/errors';
import { defaultFusionOptions, inOptionTerms } from '../engine/fusion/options.ts';
import { serializeFusionError } from './job-errors.ts';
import { distillRequestFromSpec, finetuneRequestFromSpec, fusionOptionsFromSpec } from './spec-options.ts';
import { writeTrainSet } from './train-set.fixture.ts';

const MODELS = 3;
const ids = ['file_0000000000000000000000000', 'file_1000000000000000000000000', 'file_2000000000000000000000000'];
const FAMILIES = ['mlp', 'vgg', 'resnet'] as const;

type Value = string | number | boolean | number[];

/**
 * Three values a numeric option type accepts, for the fusion and the training
 * options alike: its lower bound (or, for an exclusive one, just above it) and
 * two more, capped by its maximum.
 */
function numericSamples(type: { kind: 'integer' | 'number'; min?: number; max?: number; above?: number }): number[] {
  const max = type.max ?? Infinity;
  if (type.kind === 'integer') {
    const min = type.min ?? 0;
    return [min, min + 1, Math.min(min + 2, max)];
  }
  if (type.above !== undefined) return [type.above + 0.5, type.above + 1, Math.min(type.above + 4, max)];
  const min = type.min ?? 0;
  return [min, min + 0.05, Math.min(min + 1, max)];
}

/** Values of an option's type (fusion or training) that the API and the CLI both accept, for MODELS models. */
function sampleValues(type: OptionType | TrainingOptionType): Value[] {
  switch (type.kind) {
    case 'choice':
      return [...type.values];
    case 'on-off':
      return [true, false];
    case 'integer':
    case 'number':
      return numericSamples(type);
    case 'weights':
      return [[0.2, 0.3, 0.5], [1, 1, 2]];
    case 'mapping':
      return ['cla', 'chain', 'random', [1, 2]];
    case 'fill':
      return [0.5, [-1, 0, 1]];
    case 'dataset':
      return [TRAIN_FILE];
  }
}

const cliText = (v: Value) => (typeof v === 'boolean' ? (v ? 'on' : 'off') : Array.isArray(v) ? v.join(',') : String(v));

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const key of path.slice(0, -1)) o = (o[key] ??= {}) as Record<string, unknown>;
  o[path[path.length - 1]] = value;
}

/** The option at `value` as `fuse` flags and as a job spec (with the variant it needs, e.g. --solver sinkhorn). */
function bothForms(name: FusionOptionName, value: Value): { argv: string[]; spec: unknown } {
  const decl: OptionDeclaration = FUSION_OPTIONS[name];
  const argv = [`--${decl.flag}`, cliText(value)];
  const spec: Record<string, unknown> = { models: ids, calibration: { file: 'file_3000000000000000000000000' } };
  if (decl.when) {
    const on: OptionDeclaration = FUSION_OPTIONS[decl.when.option as FusionOptionName];
    argv.unshift(`--${on.flag}`, decl.when.is);
    setPath(spec, on.api.split('.'), decl.when.is);
  }
  const path = decl.api.split('.');
  if (decl.type.kind === 'mapping' && Array.isArray(value)) setPath(spec, path.slice(0, -1), { kind: 'explicit', layers: value });
  else setPath(spec, path, value);
  return { argv, spec };
}

describe('each declared option, as a CLI flag and as an API field', () => {
  it('declares a flag for every option and nothing else', () => {
    expect(Object.keys(FUSION_FLAGS)).toEqual(FUSION_OPTION_NAMES.map((n) => FUSION_OPTIONS[n].flag));
  });

  for (const name of FUSION_OPTION_NAMES) {
    const decl: OptionDeclaration = FUSION_OPTIONS[name];
    for (const value of sampleValues(decl.type)) {
      it(`${name}: --${decl.flag} ${cliText(value)} = ${decl.api}: ${JSON.stringify(value)}`, () => {
        const { argv, spec } = bothForms(name, value);
        // The API's schema (built from the same declaration) takes the field as written.
        const parsed = FusionSpecSchema.parse(spec);
        const args = new Args(parseArgs(argv, FUSION_FLAGS));
        const fromCli = fusionOptionValuesFromArgs(args);
        expect(fromCli[name]).toEqual(value);
        expect(fusionOptionValuesFromSpec(parsed)).toEqual(fromCli);
        for (const family of FAMILIES) {
          expect(fusionOptionsFromSpec(parsed, family, MODELS)).toEqual(fusionOptionsFromArgs(args, family, MODELS));
        }
      });
    }

    // `samples` is a request field (how many calibration rows), not an engine option.
    if (name !== 'samples') {
      it(`${name} reaches the engine: some declared value resolves to options other than the defaults`, () => {
        const differs = FAMILIES.some((family) =>
          sampleValues(decl.type).some((value) => {
            const args = new Args(parseArgs(bothForms(name, value).argv, FUSION_FLAGS));
            return JSON.stringify(fusionOptionsFromArgs(args, family, MODELS)) !== JSON.stringify(defaultFusionOptions(family));
          }),
        );
        expect(differs).toBe(true);
      });
    }
  }

  it('resolves no flags and an empty spec to the declared defaults', () => {
    for (const family of FAMILIES) {
      const none = fusionOptionsFromArgs(new Args(parseArgs([], FUSION_FLAGS)), family, MODELS);
      expect(fusionOptionsFromSpec({ models: ids, calibration: { file: ids[0] } }, family, MODELS)).toEqual(none);
      expect(none).toEqual(defaultFusionOptions(family));
      expect(none.layerCost).toBe(optionDefault('layerCost', family));
      expect(none.groundMetric.efficient).toBe(optionDefault('efficientMetric', family));
      expect(none.handleSkips).toBe(optionDefault('handleSkips', family));
    }
  });

  it('words one cross-field check in each surface’s terms: the flag on the CLI, the field path in the API', () => {
    const weights = bothForms('weights', [1, 2]);
    expect(() => fusionOptionsFromArgs(new Args(parseArgs(weights.argv, FUSION_FLAGS)), 'mlp', MODELS)).toThrow(
      new UsageError('--weights has 2 entries but 3 models were given'),
    );
    expect(() => fusionOptionsFromSpec(FusionSpecSchema.parse(weights.spec), 'mlp', MODELS)).toThrow('fusion.weights has 2 entries but 3 models were given');
    const anchor = bothForms('anchor', 4);
    expect(() => fusionOptionsFromArgs(new Args(parseArgs(anchor.argv, FUSION_FLAGS)), 'mlp', MODELS)).toThrow(new UsageError('--anchor 4 is beyond the 3 models given'));
    expect(() => fusionOptionsFromSpec(FusionSpecSchema.parse(anchor.spec), 'mlp', MODELS)).toThrow('fusion.anchor 4 is beyond the 3 models given');
  });
});

describe('engine errors name option fields; each surface says them its way', () => {
  const cli = (field: FusionOptionName, value?: string) => `--${FUSION_OPTIONS[field].flag}${value === undefined ? '' : ` ${value}`}`;
  it('maps a leading field and field=value tokens, and leaves other text alone', () => {
    const leading = new FusionError('INVALID_ARGUMENT', 'samples 500 asks for more calibration rows than the 100 given', { field: 'samples' });
    expect(inOptionTerms(leading, cli)).toBe('--samples 500 asks for more calibration rows than the 100 given');
    expect(serializeFusionError(leading).message).toBe('calibration.samples 500 asks for more calibration rows than the 100 given');
    const token = new FusionError('UNSUPPORTED', 'merging layers is for MLPs only; balance the vgg by adding layers (balance=add), x=3 stays', { field: 'balance' });
    expect(inOptionTerms(token, cli)).toBe('merging layers is for MLPs only; balance the vgg by adding layers (--balance add), x=3 stays');
    expect(serializeFusionError(token).message).toBe('merging layers is for MLPs only; balance the vgg by adding layers (fusion.balance=add), x=3 stays');
  });
});

// ------------------------------------------------------------ the training options

const TRAIN_FILE = 'file_3000000000000000000000000';
// The runner parses the uploaded bytes; the CLI loads the file.
const trainSet = writeTrainSet('clafusion-option-parity-');
const trainPath = trainSet.path;
const trainData = trainSet.data;
afterAll(trainSet.remove);

const TRAINING_FLAGS = { ...FUSION_FLAGS, ...FINETUNE_FLAGS, ...DISTILL_FLAGS, ...DATA_FLAGS };

/** What a section needs besides the option under test, as flags and as fields. */
function trainingBase(section: TrainingSection, except: TrainingOptionName): { argv: string[]; fields: Record<string, unknown> } {
  const argv: string[] = [];
  const fields: Record<string, unknown> = {};
  const needs: [TrainingOptionName, Value][] = [['epochs', 1], ['train', TRAIN_FILE], ['alpha', 0.5], ['temperature', 2]];
  for (const [name, value] of needs) {
    if (name === except || !TRAINING_OPTIONS[name].sections.includes(section)) continue;
    argv.push(...trainingArgv(name, section, value));
    fields[TRAINING_OPTIONS[name].api] = trainingField(name, value);
  }
  return { argv, fields };
}

const trainingArgv = (name: TrainingOptionName, section: TrainingSection, value: Value) => [
  trainingFlagOf(name, section),
  name === 'train' ? trainPath : cliText(value),
];
const trainingField = (name: TrainingOptionName, value: Value) => (name === 'train' ? { file: value } : value);

/** `fuse` flags and a job spec that ask for the section with the option at `value`. */
function trainingForms(section: TrainingSection, name: TrainingOptionName, value: Value): { argv: string[]; spec: FusionSpec } {
  const base = trainingBase(section, name);
  const argv = [...base.argv, ...trainingArgv(name, section, value)];
  const spec = { models: ids.slice(0, 2), calibration: { file: ids[2] }, [section]: { ...base.fields, [TRAINING_OPTIONS[name].api]: trainingField(name, value) } };
  return { argv, spec: FusionSpecSchema.parse(spec) };
}

async function requestFromArgs(section: TrainingSection, argv: string[]) {
  const args = new Args(parseArgs(argv, TRAINING_FLAGS));
  const finetune = await finetuneRequestFromArgs(args);
  const distill = await distillRequestFromArgs(args);
  return section === 'finetune' ? (expect(distill).toBeUndefined(), finetune) : (expect(finetune).toBeUndefined(), distill);
}

const requestFromSpec = (section: TrainingSection, spec: FusionSpec) =>
  section === 'finetune' ? finetuneRequestFromSpec(spec, trainData) : distillRequestFromSpec(spec, trainData);

describe('each declared training option, as a fuse flag and as a field of the spec’s section', () => {
  it('declares a flag for every option of each section, and the API fields in declaration order', () => {
    const schemas = { finetune: FinetuneSpecSchema, distill: DistillSpecSchema };
    for (const section of TRAINING_SECTION_NAMES) {
      for (const name of trainingOptionsOf(section)) expect(TRAINING_FLAGS).toHaveProperty([trainingFlagOf(name, section).slice(2)]);
      const shape = (schemas[section] as unknown as { shape: Record<string, unknown> }).shape;
      expect(Object.keys(shape)).toEqual(trainingOptionsOf(section).map((n) => TRAINING_OPTIONS[n].api));
    }
  });

  for (const section of TRAINING_SECTION_NAMES) {
    for (const name of trainingOptionsOf(section)) {
      const decl: TrainingOptionDeclaration = TRAINING_OPTIONS[name];
      for (const value of sampleValues(decl.type)) {
        const shown = name === 'train' ? 'DATA' : cliText(value);
        it(`${section}.${name}: ${trainingFlagOf(name, section)} ${shown} = ${section}.${decl.api}: ${JSON.stringify(trainingField(name, value))}`, async () => {
          const { argv, spec } = trainingForms(section, name, value);
          const fromCli = await requestFromArgs(section, argv);
          const fromSpec = requestFromSpec(section, spec);
          expect(fromSpec).toEqual(fromCli);
          // The value reaches the pipeline's request as given (a fill as a per-channel list; the data as its tensors)…
          if (decl.request !== undefined) expect((fromCli as unknown as Record<string, unknown>)[decl.request]).toEqual(decl.type.kind === 'fill' && !Array.isArray(value) ? [value] : value);
          else expect(fromCli!.data.y).toEqual(trainData.y);
          // …and the settings the preset completes, for every family.
          const field = presetFieldOf(name);
          for (const family of FAMILIES) {
            const settings = resolveTrainingSettings(family, section, fromCli!);
            expect(resolveTrainingSettings(family, section, fromSpec!)).toEqual(settings);
            if (field !== null) expect(settings[field]).toEqual(value);
          }
        });
      }
    }
  }

  it('gives the declared defaults that are not the preset’s, and leaves the preset’s to the preset', async () => {
    for (const section of TRAINING_SECTION_NAMES) {
      const base = trainingBase(section, 'preset');
      const fromCli = (await requestFromArgs(section, base.argv)) as unknown as Record<string, unknown>;
      for (const name of trainingOptionsOf(section)) {
        const decl: TrainingOptionDeclaration = TRAINING_OPTIONS[name];
        if (decl.request === undefined || name in { epochs: 1, alpha: 1, temperature: 1 }) continue;
        const expected = presetFieldOf(name) !== null || decl.default === null ? undefined : decl.type.kind === 'fill' ? [decl.default] : decl.default;
        expect(fromCli[decl.request], `${section}.${name}`).toEqual(expected);
        // What the declaration calls the preset's default is what the pipeline takes from the family's preset.
        const field = presetFieldOf(name);
        for (const family of FAMILIES) {
          if (field !== null) expect(resolveTrainingSettings(family, section, fromCli as never)[field]).toEqual(PRESETS[defaultPreset(family, section)][field]);
        }
      }
    }
  });

  it('words each refusal in each surface’s terms: the flag on the CLI, the field path in the API', async () => {
    const spec = (section: TrainingSection, fields: Record<string, unknown>) =>
      ({ models: ids.slice(0, 2), calibration: { file: ids[2] }, [section]: fields }) as unknown as FusionSpec;
    // A value out of its declared range (the API's schema refuses it first; the resolver is the same for both).
    for (const section of TRAINING_SECTION_NAMES) {
      for (const name of trainingOptionsOf(section)) {
        const { type } = TRAINING_OPTIONS[name] as TrainingOptionDeclaration;
        if (type.kind !== 'number' || (type.above === undefined && type.max === undefined)) continue;
        const bad = type.above !== undefined ? type.above : type.max! + 0.5;
        const { argv, spec: good } = trainingForms(section, name, type.above !== undefined ? type.above + 1 : type.max!);
        const cliArgv = argv.map((a, i) => (argv[i - 1] === trainingFlagOf(name, section) ? String(bad) : a));
        const cli = await requestFromArgs(section, cliArgv).then(
          () => '',
          (e: Error) => e.message,
        );
        const api = (() => {
          try {
            requestFromSpec(section, spec(section, { ...(good[section] as object), [TRAINING_OPTIONS[name].api]: bad }));
            return '';
          } catch (e) {
            return (e as Error).message;
          }
        })();
        expect(cli.startsWith(`${trainingFlagOf(name, section)} must be `), cli).toBe(true);
        expect(api).toBe(cli.replace(trainingFlagOf(name, section), trainingFieldOf(name, section)));
      }
    }
    const alpha = trainingForms('distill', 'alpha', 0.5);
    await expect(requestFromArgs('distill', alpha.argv.map((a) => (a === '0.5' ? '1.5' : a)))).rejects.toThrow(new UsageError('--alpha must be between 0 and 1, got 1.5'));
    expect(() => distillRequestFromSpec(spec('distill', { ...alpha.spec.distill, alpha: 1.5 }), trainData)).toThrow('distill.alpha must be between 0 and 1, got 1.5');
    const both = { ...trainingForms('finetune', 'epochs', 1).spec, distill: alpha.spec.distill };
    expect(() => finetuneRequestFromSpec(both, trainData)).toThrow('finetune and distill exclude each other');
    await expect(requestFromArgs('finetune', [...alpha.argv, '--finetune', '1'])).rejects.toThrow(new UsageError('--finetune and --distill exclude each other: a fusion either finetunes or distils the fused model'));
    const noAlpha = trainingBase('distill', 'alpha');
    await expect(requestFromArgs('distill', noAlpha.argv)).rejects.toThrow(new UsageError('--distill needs --alpha A (weight of the distillation term in [0, 1])'));
    expect(() => distillRequestFromSpec(spec('distill', noAlpha.fields), trainData)).toThrow('distill needs distill.alpha (weight of the distillation term in [0, 1])');
  });
});
