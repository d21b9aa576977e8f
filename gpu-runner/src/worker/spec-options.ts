/**
 * The API's fusion spec → the engine's resolved FusionOptions. It mirrors
 * the CLI's fusionOptionsFromArgs (cli/fusion-flags.ts) field for field:
 * defaults from the family's paper configuration, each field overriding only
 * what it names, so a spec and the equivalent flags give the same options and
 * therefore the same fused bytes (spec-options.test.ts checks the pairs).
 */
import type { FusionSpec } from '@clafusion/contract';
import type { Family } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { type FusionOptions, type MappingChoice, defaultFusionOptions } from '../engine/fusion/options.ts';
import type { LabeledData } from '../engine/nn/data.ts';
import type { DistillRequest } from '../pipeline/distill-fusion.ts';
import type { FinetuneRequest } from '../pipeline/finetune-fusion.ts';
import type { TrainingSpec } from '../pipeline/training-settings.ts';

function mappingFrom(spec: NonNullable<FusionSpec['fusion']>['mapping']): MappingChoice {
  if (spec === undefined) return { kind: 'cla', firstConstraint: true, lastConstraint: true };
  switch (spec.kind) {
    case 'cla':
      return { kind: 'cla', firstConstraint: spec.first_constraint ?? true, lastConstraint: spec.last_constraint ?? true };
    case 'chain':
      return { kind: 'chain' };
    case 'random':
      return { kind: 'random' };
    case 'explicit':
      return { kind: 'explicit', mapping: [...spec.layers] };
  }
}

export function fusionOptionsFromSpec(spec: FusionSpec, family: Family, modelCount: number): FusionOptions {
  const base = defaultFusionOptions(family);
  const f = spec.fusion ?? {};
  if (f.weights && f.weights.length !== modelCount) {
    throw new FusionError('INVALID_ARGUMENT', `fusion.weights has ${f.weights.length} entries but ${modelCount} models were given`, {
      field: 'fusion.weights',
    });
  }
  if (f.anchor !== undefined && f.anchor > modelCount) {
    throw new FusionError('INVALID_ARGUMENT', `fusion.anchor ${f.anchor} is beyond the ${modelCount} models given`, { field: 'fusion.anchor' });
  }
  const gm = f.ground_metric ?? {};
  return {
    ...base,
    layerCost: f.layer_cost ?? base.layerCost,
    mapping: mappingFrom(f.mapping),
    balance: f.balance ?? base.balance,
    mergeEstimator: f.merge_estimator ?? base.mergeEstimator,
    fusion: f.method ?? base.fusion,
    weights: f.weights ? [...f.weights] : null,
    outputLayer: f.output_layer ?? base.outputLayer,
    groundMetric: {
      metric: gm.metric ?? base.groundMetric.metric,
      squared: gm.squared ?? base.groundMetric.squared,
      efficient: gm.efficient ?? base.groundMetric.efficient,
      distNormalize: base.groundMetric.distNormalize,
      normalize: gm.normalize ?? base.groundMetric.normalize,
    },
    solver: f.solver?.kind === 'sinkhorn' ? { kind: 'sinkhorn', reg: f.solver.reg ?? 0.01 } : { kind: 'exact' },
    correction: f.correction ?? base.correction,
    pastCorrection: f.past_correction ?? base.pastCorrection,
    activations: f.activations ?? base.activations,
    anchor: f.anchor === undefined ? null : f.anchor - 1,
    seed: spec.seed ?? base.seed,
    handleSkips: f.handle_skips ?? base.handleSkips,
    bnReestimate: f.bn_reestimate ?? base.bnReestimate,
    repair: f.repair ?? base.repair,
  };
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
