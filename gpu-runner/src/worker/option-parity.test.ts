/**
 * Every declared fusion option (@clafusion/contract/options), given as its
 * CLI flag and as its API field, resolves to the same engine options. The
 * cases are generated from the declaration: a new option is covered the
 * moment it is declared, and one that is declared but not wired through
 * either surface (or wired differently) fails here.
 */
import { describe, expect, it } from 'vitest';
import { FusionSpec as FusionSpecSchema } from '@clafusion/contract';
import {
  FUSION_OPTIONS,
  FUSION_OPTION_NAMES,
  type FusionOptionName,
  type OptionDeclaration,
  fusionOptionValuesFromSpec,
  optionDefault,
} from '@clafusion/contract/options';
import { Args, UsageError, parseArgs } from '../cli/args.ts';
import { FUSION_FLAGS, fusionOptionValuesFromArgs, fusionOptionsFromArgs } from '../cli/fusion-flags.ts';
import { FusionError } from '@clafusion/model-format/errors';
import { defaultFusionOptions, inOptionTerms } from '../engine/fusion/options.ts';
import { serializeFusionError } from './job-errors.ts';
import { fusionOptionsFromSpec } from './spec-options.ts';

const MODELS = 3;
const ids = ['file_0000000000000000000000000', 'file_1000000000000000000000000', 'file_2000000000000000000000000'];
const FAMILIES = ['mlp', 'vgg', 'resnet'] as const;

type Value = string | number | boolean | number[];

/** Values of the option's type the API and the CLI both accept, for MODELS models. */
function sampleValues(decl: OptionDeclaration): Value[] {
  const { type } = decl;
  switch (type.kind) {
    case 'choice':
      return [...type.values];
    case 'on-off':
      return [true, false];
    case 'integer': {
      const min = type.min ?? 0;
      return [min, min + 1, Math.min(min + 2, type.max ?? Infinity)];
    }
    case 'number': {
      const min = type.min ?? 0;
      return [min, min + 0.05, min + 1];
    }
    case 'weights':
      return [[0.2, 0.3, 0.5], [1, 1, 2]];
    case 'mapping':
      return ['cla', 'chain', 'random', [1, 2]];
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
    for (const value of sampleValues(decl)) {
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
          sampleValues(decl).some((value) => {
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
