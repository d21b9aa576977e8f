/**
 * The `fuse` command's engine flags and their translation into resolved
 * FusionOptions. Defaults come from the family's paper configuration; every
 * flag only overrides what it names.
 */
import type { Family } from '../engine/arch.ts';
import { type FusionOptions, type MappingChoice, defaultFusionOptions } from '../engine/fusion/options.ts';
import { type Args, type FlagSpecs, UsageError } from './args.ts';

export const FUSION_FLAGS: FlagSpecs = {
  samples: { kind: 'value', placeholder: 'N', description: 'calibration rows to use (default 200, or all if fewer)' },
  'layer-cost': { kind: 'value', placeholder: 'cka|neurons|wasserstein|index', description: 'CLA layer cost (default: neurons for MLPs, cka for CNNs)' },
  'first-constraint': { kind: 'value', placeholder: 'on|off', description: 'match the first hidden layers to each other (default on)' },
  'last-constraint': { kind: 'value', placeholder: 'on|off', description: 'match the last hidden layers to each other (default on)' },
  mapping: { kind: 'value', placeholder: 'cla|chain|random|LIST', description: 'layer mapping: the CLA dynamic program (default), a baseline, or explicit 1-based indices like 1,2,5' },
  balance: { kind: 'value', placeholder: 'add|merge', description: 'add identity layers to the shallower model (default) or merge layers of the deeper one' },
  'merge-estimator': { kind: 'value', placeholder: 'sum|majority|average', description: 'ReLU estimate for merged layers (default sum)' },
  fusion: { kind: 'value', placeholder: 'ot-activations|ot-weights|average', description: 'layer-wise fusion method (default ot-activations)' },
  weights: { kind: 'value', placeholder: 'w1,w2,…', description: 'fusion weight per input model, in order (default uniform)' },
  'output-layer': { kind: 'value', placeholder: 'align|average', description: 'run OT on the output layer (default) or only average it' },
  anchor: { kind: 'value', placeholder: 'K', description: 'for 3+ models: 1-based index of the anchor (default: the deepest)' },
  activations: { kind: 'value', placeholder: 'pre|post', description: 'record pre-ReLU (default, the paper) or post-ReLU values' },
  'ground-metric': { kind: 'value', placeholder: 'euclidean|cosine', description: 'OT ground metric (default euclidean)' },
  squared: { kind: 'value', placeholder: 'on|off', description: 'squared Euclidean distances (default off)' },
  'ground-metric-normalize': { kind: 'value', placeholder: 'none|log|max|median|mean', description: 'ground metric normalisation (default none)' },
  'efficient-metric': { kind: 'value', placeholder: 'on|off', description: 'distances by the ‖a‖²+‖b‖²−2a·b expansion with 1/t (default: off for MLPs, on for CNNs)' },
  solver: { kind: 'value', placeholder: 'exact|sinkhorn', description: 'transport solver (default exact)' },
  'sinkhorn-reg': { kind: 'value', placeholder: 'R', description: 'entropic regularisation for --solver sinkhorn (default 0.01)' },
  correction: { kind: 'value', placeholder: 'on|off', description: 'divide transport plans by their column mass (default on)' },
  'past-correction': { kind: 'value', placeholder: 'on|off', description: 'align outputs of input-aligned weights (default on)' },
  seed: { kind: 'value', placeholder: 'N', description: 'seed for every random choice (default 0)' },
  'handle-skips': { kind: 'value', placeholder: 'on|off', description: 'ResNet: shortcut convs reuse the block input′s map, the next conv averages it with conv2′s (default on for ResNets)' },
  'bn-reestimate': { kind: 'value', placeholder: 'on|off', description: 'models with BatchNorm: re-estimate the fused running statistics on the calibration data (default on)' },
  repair: { kind: 'value', placeholder: 'on|off', description: 'REPAIR: set each fused channel′s mean/std to the interpolated parents′ (every family, 2 or K models; bias-free models gain biases; default off)' },
};

function parseMapping(args: Args, first: boolean, last: boolean): MappingChoice {
  const raw = args.string('mapping');
  if (raw === undefined || raw === 'cla') return { kind: 'cla', firstConstraint: first, lastConstraint: last };
  if (raw === 'chain') return { kind: 'chain' };
  if (raw === 'random') return { kind: 'random' };
  const list = args.numberList('mapping');
  if (!list || list.some((v) => !Number.isInteger(v))) {
    throw new UsageError(`--mapping must be cla, chain, random or a list of 1-based layer indices like 1,2,5; got "${raw}"`);
  }
  return { kind: 'explicit', mapping: list };
}

export function fusionOptionsFromArgs(args: Args, family: Family, modelCount: number): FusionOptions {
  const base = defaultFusionOptions(family);
  const first = args.onOff('first-constraint', true);
  const last = args.onOff('last-constraint', true);
  const solverKind = args.choice('solver', ['exact', 'sinkhorn'] as const, 'exact');
  const weights = args.numberList('weights');
  if (weights && weights.length !== modelCount) {
    throw new UsageError(`--weights has ${weights.length} entries but ${modelCount} models were given`);
  }
  const anchor = args.optionalInteger('anchor', 1);
  if (anchor !== null && anchor > modelCount) throw new UsageError(`--anchor ${anchor} is beyond the ${modelCount} models given`);
  return {
    ...base,
    layerCost: args.choice('layer-cost', ['cka', 'neurons', 'wasserstein', 'index'] as const, base.layerCost),
    mapping: parseMapping(args, first, last),
    balance: args.choice('balance', ['add', 'merge'] as const, base.balance),
    mergeEstimator: args.choice('merge-estimator', ['sum', 'majority', 'average'] as const, base.mergeEstimator),
    fusion: args.choice('fusion', ['ot-activations', 'ot-weights', 'average'] as const, base.fusion),
    weights,
    outputLayer: args.choice('output-layer', ['align', 'average'] as const, base.outputLayer),
    groundMetric: {
      metric: args.choice('ground-metric', ['euclidean', 'cosine'] as const, base.groundMetric.metric),
      squared: args.onOff('squared', base.groundMetric.squared),
      efficient: args.onOff('efficient-metric', base.groundMetric.efficient),
      distNormalize: base.groundMetric.distNormalize,
      normalize: args.choice('ground-metric-normalize', ['none', 'log', 'max', 'median', 'mean'] as const, base.groundMetric.normalize),
    },
    solver: solverKind === 'exact' ? { kind: 'exact' } : { kind: 'sinkhorn', reg: args.number('sinkhorn-reg', 0.01, { min: 1e-9 }) },
    correction: args.onOff('correction', base.correction),
    pastCorrection: args.onOff('past-correction', base.pastCorrection),
    activations: args.choice('activations', ['pre', 'post'] as const, base.activations),
    anchor: anchor === null ? null : anchor - 1,
    seed: args.integer('seed', base.seed),
    handleSkips: args.onOff('handle-skips', base.handleSkips),
    bnReestimate: args.onOff('bn-reestimate', base.bnReestimate),
    repair: args.onOff('repair', base.repair),
  };
}
