/**
 * The API's fusion spec → the engine's resolved FusionOptions: the spec's
 * fields read at the paths the options declaration gives
 * (@clafusion/contract/options), resolved by the same resolver as the CLI's
 * flags, so a spec and the equivalent flags give the same options and
 * therefore the same fused bytes (spec-options.test.ts checks every declared
 * option). Errors name the spec's field (`fusion.weights`).
 */
import type { FusionSpec } from '@clafusion/contract';
import { FUSION_OPTIONS, fusionOptionValuesFromSpec } from '@clafusion/contract/options';
import type { Family } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { type FusionOptions, OptionError, resolveFusionOptions } from '../engine/fusion/options.ts';
import type { LabeledData } from '../engine/nn/data.ts';
import type { DistillRequest } from '../pipeline/distill-fusion.ts';
import type { FinetuneRequest } from '../pipeline/finetune-fusion.ts';
import type { TrainingSpec } from '../pipeline/training-settings.ts';

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
 * The spec's `finetune` section → the pipeline's FinetuneRequest, as
 * finetuneRequestFromArgs (cli/finetune-flags.ts) builds it from `fuse
 * --finetune EPOCHS --train DATA …`: only the fields given are set (the
 * preset fills the rest), the top-level seed is the training seed only when
 * given (as --seed is), and the fill is always a per-channel list. Undefined
 * without a finetune section.
 */
export function finetuneRequestFromSpec(spec: FusionSpec, data: LabeledData): FinetuneRequest | undefined {
  const f = spec.finetune;
  if (!f) return undefined;
  return { ...trainingSpecFrom(f, spec.seed), models: f.models ?? 'fused', data };
}

/**
 * The spec's `distill` section → the pipeline's DistillRequest, as
 * distillRequestFromArgs (cli/distill-flags.ts) builds it from `fuse
 * --distill EPOCHS --train DATA --alpha A --temperature T …`, with the same
 * rules as finetuneRequestFromSpec. Undefined without a distill section.
 */
export function distillRequestFromSpec(spec: FusionSpec, data: LabeledData): DistillRequest | undefined {
  const d = spec.distill;
  if (!d) return undefined;
  return { ...trainingSpecFrom(d, spec.seed), alpha: d.alpha, temperature: d.temperature, teachers: d.teachers ?? 'inputs', data };
}

function trainingSpecFrom(f: NonNullable<FusionSpec['finetune'] | FusionSpec['distill']>, seed: number | undefined): TrainingSpec {
  const training: TrainingSpec = {};
  if (f.preset !== undefined) training.preset = f.preset;
  training.epochs = f.epochs;
  if (f.lr !== undefined) training.lr = f.lr;
  if (f.momentum !== undefined) training.momentum = f.momentum;
  if (f.weight_decay !== undefined) training.weightDecay = f.weight_decay;
  if (f.batch_size !== undefined) training.batchSize = f.batch_size;
  if (f.augment !== undefined) training.augment = f.augment;
  if (seed !== undefined) training.seed = seed;
  // The CLI's default fill is a zero pixel after --normalize; uploaded
  // datasets are used as given, like a file without --normalize, so it is [0].
  training.augmentFill = f.augment_fill === undefined ? [0] : typeof f.augment_fill === 'number' ? [f.augment_fill] : [...f.augment_fill];
  return training;
}
