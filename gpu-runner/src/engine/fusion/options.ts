/**
 * Every option of a fusion, resolved. Defaults are the paper's configuration
 * for the family (docs/algorithm.md §0.2): for MLPs the `fuse_mlp_ablation_studies.sh`
 * flags (neuron-count layer cost, direct Euclidean ground metric). The
 * options, their defaults and ranges are declared once in
 * @clafusion/contract/options (pure data, the one contract module the
 * engine reads); resolveFusionOptions below turns given values into this.
 */
import { type FusionOptionName, type FusionOptionValues, type OptionProblem, fusionOptionProblem, isFusionOptionName, optionDefault } from '@clafusion/contract/options';
import type { Family } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import type { MergeEstimator } from '../balance/merge-layers.ts';
import type { LayerCostKind } from '../cla/layer-cost.ts';
import { CNN_GROUND_METRIC, type GroundMetricOptions, MLP_GROUND_METRIC } from './ground-metric.ts';
import type { OtSolver } from './transport.ts';

export type MappingChoice =
  | { kind: 'cla'; firstConstraint: boolean; lastConstraint: boolean }
  | { kind: 'chain' }
  | { kind: 'random' }
  | { kind: 'explicit'; mapping: number[] };

export type FusionMethod = 'ot-activations' | 'ot-weights' | 'average';

export interface FusionOptions {
  layerCost: LayerCostKind;
  mapping: MappingChoice;
  balance: 'add' | 'merge';
  mergeEstimator: MergeEstimator;
  fusion: FusionMethod;
  /** Per input model, in the order given; normalised to sum to 1. */
  weights: number[] | null;
  outputLayer: 'align' | 'average';
  groundMetric: GroundMetricOptions;
  solver: OtSolver;
  correction: boolean;
  pastCorrection: boolean;
  /** Record pre-ReLU values (`--prelu-acts`, the paper) or post-ReLU. */
  activations: 'pre' | 'post';
  /** Index of the anchor model for K-model fusion; null = the deepest (first of equals). */
  anchor: number | null;
  seed: number;
  /** Shortcut-aware reuse of transport maps (§7.3, `--handle-skips`); on for ResNets. */
  handleSkips: boolean;
  /**
   * Re-estimate the fused model's BatchNorm running statistics on the
   * calibration samples (models with BatchNorm only; the averaged running
   * statistics describe neither parent's activations).
   */
  bnReestimate: boolean;
  /**
   * REPAIR-style renormalisation: rescale every fused channel so its
   * pre-activation mean and standard deviation are the interpolation of the
   * parents' (aligned) statistics. Needs biases or BatchNorm to shift means.
   */
  repair: boolean;
}

/** The paper's configuration for the family: every declared option at its default. */
export function defaultFusionOptions(family: Family): FusionOptions {
  return resolveFusionOptions({}, family, 2);
}

/**
 * A declared option value that breaks a cross-field rule (weights per model,
 * anchor within the models). The message names the option's field
 * (`weights has 3 entries …`); `problem.say(label)` words it for a caller
 * that names the field otherwise (the CLI's `--weights`, the API's
 * `fusion.weights`).
 */
export class OptionError extends FusionError {
  constructor(readonly problem: OptionProblem) {
    super('INVALID_ARGUMENT', problem.say(problem.field), { field: problem.field });
  }
}

/**
 * The one resolver for the CLI and the service: the values a caller gave
 * (flat, by option name: @clafusion/contract/options), each missing one at
 * the family's default, checked against the model count, as the engine's
 * FusionOptions.
 */
export function resolveFusionOptions(values: FusionOptionValues, family: Family, modelCount: number): FusionOptions {
  const problem = fusionOptionProblem(values, modelCount);
  if (problem) throw new OptionError(problem);
  const pick = <K extends FusionOptionName>(name: K) => (values[name] ?? optionDefault(name, family)) as NonNullable<FusionOptionValues[K]>;
  const mapping = pick('mapping');
  const engineMetric = family === 'mlp' ? MLP_GROUND_METRIC : CNN_GROUND_METRIC;
  return {
    layerCost: pick('layerCost'),
    mapping:
      mapping === 'cla'
        ? { kind: 'cla', firstConstraint: pick('firstConstraint'), lastConstraint: pick('lastConstraint') }
        : Array.isArray(mapping)
          ? { kind: 'explicit', mapping: [...mapping] }
          : { kind: mapping },
    balance: pick('balance'),
    mergeEstimator: pick('mergeEstimator'),
    fusion: pick('fusion'),
    weights: values.weights ? [...values.weights] : null,
    outputLayer: pick('outputLayer'),
    groundMetric: {
      metric: pick('groundMetric'),
      squared: pick('squared'),
      efficient: pick('efficientMetric'),
      distNormalize: engineMetric.distNormalize,
      normalize: pick('groundMetricNormalize'),
    },
    solver: pick('solver') === 'sinkhorn' ? { kind: 'sinkhorn', reg: pick('sinkhornReg') } : { kind: 'exact' },
    correction: pick('correction'),
    pastCorrection: pick('pastCorrection'),
    activations: pick('activations'),
    anchor: values.anchor === undefined ? null : values.anchor - 1,
    seed: pick('seed'),
    handleSkips: pick('handleSkips'),
    bnReestimate: pick('bnReestimate'),
    repair: pick('repair'),
  };
}

/**
 * An engine error's message with the options it names said as the caller
 * says them. The engine names an option by its field: at the start of the
 * message when details.field is that option (`samples 500 asks for …`), or
 * as `field=value` anywhere (`balance=add`). `say(field, value)` gives
 * `--samples` / `--balance add` for the CLI, `calibration.samples` /
 * `fusion.balance=add` for the API.
 */
export function inOptionTerms(err: FusionError, say: (field: FusionOptionName, value?: string) => string): string {
  let message = err.message.replace(/\b([A-Za-z]+)=([^\s,;)]+)/g, (token, field: string, value: string) =>
    isFusionOptionName(field) ? say(field, value) : token,
  );
  const field = err.details.field;
  if (isFusionOptionName(field) && message.startsWith(`${field} `)) message = `${say(field)}${message.slice(field.length)}`;
  return message;
}
