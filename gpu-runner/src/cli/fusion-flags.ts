/**
 * The `fuse` command's engine flags and their translation into resolved
 * FusionOptions. The flags, their help and their ranges come from the one
 * options declaration (@clafusion/contract/options); the values go through
 * the same resolver as the service's (resolveFusionOptions), so defaults and
 * cross-field checks are the engine's, worded here with the flag names.
 */
import {
  FUSION_OPTIONS,
  FUSION_OPTION_NAMES,
  type FusionOptionValues,
  type MappingValue,
  type OptionDeclaration,
  flagOf,
} from '@clafusion/contract/options';
import type { Family } from '@clafusion/model-format/arch';
import { type FusionOptions, OptionError, resolveFusionOptions } from '../engine/fusion/options.ts';
import { type Args, type FlagSpecs, UsageError } from './args.ts';

export const FUSION_FLAGS: FlagSpecs = Object.fromEntries(
  FUSION_OPTION_NAMES.map((name) => {
    const { flag, placeholder, help } = FUSION_OPTIONS[name];
    return [flag, { kind: 'value', placeholder, description: help }];
  }),
);

function parseMapping(args: Args, flag: string): MappingValue {
  const raw = args.string(flag)!;
  if (raw === 'cla' || raw === 'chain' || raw === 'random') return raw;
  const list = args.numberList(flag);
  if (!list || list.some((v) => !Number.isInteger(v))) {
    throw new UsageError(`--${flag} must be cla, chain, random or a list of 1-based layer indices like 1,2,5; got "${raw}"`);
  }
  return list;
}

/** The declared options the flags give, flat and by name; each flag is checked against its declared type and range. */
export function fusionOptionValuesFromArgs(args: Args): FusionOptionValues {
  const values: Record<string, unknown> = {};
  for (const name of FUSION_OPTION_NAMES) {
    const decl: OptionDeclaration = FUSION_OPTIONS[name];
    const { flag, type } = decl;
    if (!args.has(flag)) continue;
    const min = decl.cliRange ? decl.cliRange.min : 'min' in type ? type.min : undefined;
    const max = decl.cliRange ? decl.cliRange.max : 'max' in type ? type.max : undefined;
    switch (type.kind) {
      case 'choice':
        values[name] = args.choice(flag, type.values, type.values[0]);
        break;
      case 'on-off':
        values[name] = args.onOff(flag, false);
        break;
      case 'integer':
        values[name] = args.integer(flag, 0, min);
        break;
      case 'number':
        values[name] = args.number(flag, 0, { min, max });
        break;
      case 'weights':
        values[name] = args.numberList(flag);
        break;
      case 'mapping':
        values[name] = parseMapping(args, flag);
        break;
    }
  }
  return values as FusionOptionValues;
}

export function fusionOptionsFromArgs(args: Args, family: Family, modelCount: number): FusionOptions {
  try {
    return resolveFusionOptions(fusionOptionValuesFromArgs(args), family, modelCount);
  } catch (err) {
    if (err instanceof OptionError) throw new UsageError(err.problem.say(flagOf(err.problem.field)));
    throw err;
  }
}
