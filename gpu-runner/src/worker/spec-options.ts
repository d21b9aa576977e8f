/**
 * The API's fusion spec → the engine's resolved FusionOptions: the spec's
 * fields read at the paths the options declaration gives
 * (@clafusion/contract/options), resolved by the same resolver as the CLI's
 * flags, so a spec and the equivalent flags give the same options and
 * therefore the same fused bytes (spec-options.test.ts checks every declared
 * option). Errors name the spec's field (`fusion.weights`).
 */
import type { FusionSpec } from '@clafusion/contract';
import {
  API_TRAINING_LABELS,
  FUSION_OPTIONS,
  TrainingOptionError,
  apiFieldOf,
  fusionOptionValuesFromSpec,
  givenTrainingFromSpec,
  resolveTrainingRequest,
} from '@clafusion/contract/options';
import type { Family } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { type FusionOptions, OptionError, resolveFusionOptions } from '../engine/fusion/options.ts';
import type { LabeledData } from '../engine/nn/data.ts';
import type { DistillRequest } from '../pipeline/distill-fusion.ts';
import type { FinetuneRequest } from '../pipeline/finetune-fusion.ts';

export function fusionOptionsFromSpec(spec: FusionSpec, family: Family, modelCount: number): FusionOptions {
  try {
    return resolveFusionOptions(fusionOptionValuesFromSpec(spec), family, modelCount);
  } catch (err) {
    if (!(err instanceof OptionError)) throw err;
    const field = FUSION_OPTIONS[err.problem.field].api;
    throw new FusionError('INVALID_ARGUMENT', err.problem.say(field), { field });
  }
}

/**
 * The spec's `finetune`/`distill` sections through the same resolver as
 * `fuse --finetune/--distill` (resolveTrainingRequest, from the training
 * options declaration): only the fields given are set (the preset fills the
 * rest), the top-level seed is the training seed only when given (as --seed
 * is), and the fill is always a per-channel list (default [0]: uploaded
 * datasets are used as given, like a file without --normalize). Errors name
 * the spec's field (`distill.alpha`).
 */
function trainingRequestFromSpec(spec: FusionSpec) {
  try {
    return resolveTrainingRequest(givenTrainingFromSpec(spec), { seed: spec.seed });
  } catch (err) {
    if (!(err instanceof TrainingOptionError)) throw err;
    throw new FusionError('INVALID_ARGUMENT', err.problem.say(API_TRAINING_LABELS), { field: apiFieldOf(err.problem) });
  }
}

/** The spec's `finetune` section → the pipeline's FinetuneRequest, as finetuneRequestFromArgs (cli/finetune-flags.ts) builds it from `fuse --finetune EPOCHS --train DATA …`. Undefined without a finetune section. */
export function finetuneRequestFromSpec(spec: FusionSpec, data: LabeledData): FinetuneRequest | undefined {
  const resolved = trainingRequestFromSpec(spec);
  if (resolved?.section !== 'finetune') return undefined;
  return { ...resolved.values, data };
}

/** The spec's `distill` section → the pipeline's DistillRequest, as distillRequestFromArgs (cli/distill-flags.ts) builds it from `fuse --distill EPOCHS --train DATA --alpha A --temperature T …`. Undefined without a distill section. */
export function distillRequestFromSpec(spec: FusionSpec, data: LabeledData): DistillRequest | undefined {
  const resolved = trainingRequestFromSpec(spec);
  if (resolved?.section !== 'distill') return undefined;
  const { alpha, temperature, ...values } = resolved.values;
  return { ...values, alpha: alpha!, temperature: temperature!, data };
}
