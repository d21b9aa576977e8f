/**
 * The fusion options, declared once: name, type, default per family, range,
 * help text, CLI flag and API field. Everything else derives from this table:
 * the `fuse` flags and their help (gpu-runner/src/cli/fusion-flags.ts), the
 * zod schema of the job spec and so the OpenAPI document (spec.ts), the
 * translation of either into one flat set of values, and the engine's
 * resolved FusionOptions (resolveFusionOptions in
 * gpu-runner/src/engine/fusion/options.ts), so a new option is one entry
 * here plus its use in the engine.
 *
 * Pure data and small pure functions (no zod, no I/O): the engine reads the
 * defaults from here. The order is the order of `clafusion fuse --help`.
 *
 * Errors name the option's `field` (`weights`, `anchor`); each surface says
 * it in its own words through `OptionProblem.say(label)`: the CLI with the
 * flag (`--weights`), the API with the field path (`fusion.weights`).
 */

export type OptionFamily = 'mlp' | 'vgg' | 'resnet';

export type OptionType =
  | { kind: 'choice'; values: readonly string[] }
  /** A boolean: `on|off` on the CLI, true/false in the API. */
  | { kind: 'on-off' }
  | { kind: 'number'; min?: number; max?: number }
  | { kind: 'integer'; min?: number; max?: number }
  /** One positive number per input model: a comma-separated list on the CLI, an array in the API. */
  | { kind: 'weights' }
  /** The layer mapping: `cla|chain|random` or explicit 1-based indices (`1,2,5`; `{kind:'explicit', layers}` in the API). */
  | { kind: 'mapping' };

type Choices<T> = T extends { kind: 'choice'; values: readonly (infer V)[] } ? V : never;

/** The value an option of type T takes once parsed (CLI) or read (API). */
export type OptionValue<T extends OptionType> = T extends { kind: 'choice' }
  ? Choices<T>
  : T extends { kind: 'on-off' }
    ? boolean
    : T extends { kind: 'number' | 'integer' }
      ? number
      : T extends { kind: 'weights' }
        ? number[]
        : T extends { kind: 'mapping' }
          ? MappingValue
          : never;

export type MappingValue = 'cla' | 'chain' | 'random' | number[];

export interface OptionDeclaration<T extends OptionType = OptionType> {
  type: T;
  /** The default: one value, or one per family (the paper's configuration for it). `null`: none (the engine decides, e.g. the deepest model as anchor). */
  default: OptionValue<T> | null | { [F in OptionFamily]: OptionValue<T> };
  /** `clafusion fuse --<flag>`. */
  flag: string;
  /** Placeholder in the CLI help. */
  placeholder: string;
  /** The CLI help line (also the API field's description). */
  help: string;
  /** Dot path of the field in the API's FusionSpec (as error `field`s name it). */
  api: string;
  /**
   * The field exists in the API only in one variant of a union (the
   * Sinkhorn regularisation only with `solver.kind: 'sinkhorn'`); the CLI
   * flag is read whenever given.
   */
  when?: { option: string; is: string };
  /** The CLI accepts a wider range than the API (`--seed` takes any integer, the API 0..2³¹−1). */
  cliRange?: { min?: number; max?: number };
}

const declare = <T extends OptionType>(d: OptionDeclaration<T>): OptionDeclaration<T> => d;
const on = { kind: 'on-off' } as const;

export const FUSION_OPTIONS = {
  samples: declare({
    type: { kind: 'integer', min: 1 },
    default: null,
    flag: 'samples',
    placeholder: 'N',
    help: 'calibration rows to use (default 200, or all if fewer)',
    api: 'calibration.samples',
  }),
  layerCost: declare({
    type: { kind: 'choice', values: ['cka', 'neurons', 'wasserstein', 'index'] as const },
    default: { mlp: 'neurons', vgg: 'cka', resnet: 'cka' },
    flag: 'layer-cost',
    placeholder: 'cka|neurons|wasserstein|index',
    help: 'CLA layer cost (default: neurons for MLPs, cka for CNNs)',
    api: 'fusion.layer_cost',
  }),
  firstConstraint: declare({
    type: on,
    default: true,
    flag: 'first-constraint',
    placeholder: 'on|off',
    help: 'match the first hidden layers to each other (default on)',
    api: 'fusion.mapping.first_constraint',
    when: { option: 'mapping', is: 'cla' },
  }),
  lastConstraint: declare({
    type: on,
    default: true,
    flag: 'last-constraint',
    placeholder: 'on|off',
    help: 'match the last hidden layers to each other (default on)',
    api: 'fusion.mapping.last_constraint',
    when: { option: 'mapping', is: 'cla' },
  }),
  mapping: declare({
    type: { kind: 'mapping' },
    default: 'cla',
    flag: 'mapping',
    placeholder: 'cla|chain|random|LIST',
    help: 'layer mapping: the CLA dynamic program (default), a baseline, or explicit 1-based indices like 1,2,5',
    api: 'fusion.mapping.kind',
  }),
  balance: declare({
    type: { kind: 'choice', values: ['add', 'merge'] as const },
    default: 'add',
    flag: 'balance',
    placeholder: 'add|merge',
    help: 'add identity layers to the shallower model (default) or merge layers of the deeper one',
    api: 'fusion.balance',
  }),
  mergeEstimator: declare({
    type: { kind: 'choice', values: ['sum', 'majority', 'average'] as const },
    default: 'sum',
    flag: 'merge-estimator',
    placeholder: 'sum|majority|average',
    help: 'ReLU estimate for merged layers (default sum)',
    api: 'fusion.merge_estimator',
  }),
  fusion: declare({
    type: { kind: 'choice', values: ['ot-activations', 'ot-weights', 'average'] as const },
    default: 'ot-activations',
    flag: 'fusion',
    placeholder: 'ot-activations|ot-weights|average',
    help: 'layer-wise fusion method (default ot-activations)',
    api: 'fusion.method',
  }),
  weights: declare({
    type: { kind: 'weights' },
    default: null,
    flag: 'weights',
    placeholder: 'w1,w2,…',
    help: 'fusion weight per input model, in order (default uniform)',
    api: 'fusion.weights',
  }),
  outputLayer: declare({
    type: { kind: 'choice', values: ['align', 'average'] as const },
    default: 'align',
    flag: 'output-layer',
    placeholder: 'align|average',
    help: 'run OT on the output layer (default) or only average it',
    api: 'fusion.output_layer',
  }),
  anchor: declare({
    type: { kind: 'integer', min: 1 },
    default: null,
    flag: 'anchor',
    placeholder: 'K',
    help: 'for 3+ models: 1-based index of the anchor (default: the deepest)',
    api: 'fusion.anchor',
  }),
  activations: declare({
    type: { kind: 'choice', values: ['pre', 'post'] as const },
    default: 'pre',
    flag: 'activations',
    placeholder: 'pre|post',
    help: 'record pre-ReLU (default, the paper) or post-ReLU values',
    api: 'fusion.activations',
  }),
  groundMetric: declare({
    type: { kind: 'choice', values: ['euclidean', 'cosine'] as const },
    default: 'euclidean',
    flag: 'ground-metric',
    placeholder: 'euclidean|cosine',
    help: 'OT ground metric (default euclidean)',
    api: 'fusion.ground_metric.metric',
  }),
  squared: declare({
    type: on,
    default: false,
    flag: 'squared',
    placeholder: 'on|off',
    help: 'squared Euclidean distances (default off)',
    api: 'fusion.ground_metric.squared',
  }),
  groundMetricNormalize: declare({
    type: { kind: 'choice', values: ['none', 'log', 'max', 'median', 'mean'] as const },
    default: 'none',
    flag: 'ground-metric-normalize',
    placeholder: 'none|log|max|median|mean',
    help: 'ground metric normalisation (default none)',
    api: 'fusion.ground_metric.normalize',
  }),
  efficientMetric: declare({
    type: on,
    default: { mlp: false, vgg: true, resnet: true },
    flag: 'efficient-metric',
    placeholder: 'on|off',
    help: 'distances by the ‖a‖²+‖b‖²−2a·b expansion with 1/t (default: off for MLPs, on for CNNs)',
    api: 'fusion.ground_metric.efficient',
  }),
  solver: declare({
    type: { kind: 'choice', values: ['exact', 'sinkhorn'] as const },
    default: 'exact',
    flag: 'solver',
    placeholder: 'exact|sinkhorn',
    help: 'transport solver (default exact)',
    api: 'fusion.solver.kind',
  }),
  sinkhornReg: declare({
    type: { kind: 'number', min: 1e-9 },
    default: 0.01,
    flag: 'sinkhorn-reg',
    placeholder: 'R',
    help: 'entropic regularisation for --solver sinkhorn (default 0.01)',
    api: 'fusion.solver.reg',
    when: { option: 'solver', is: 'sinkhorn' },
  }),
  correction: declare({
    type: on,
    default: true,
    flag: 'correction',
    placeholder: 'on|off',
    help: 'divide transport plans by their column mass (default on)',
    api: 'fusion.correction',
  }),
  pastCorrection: declare({
    type: on,
    default: true,
    flag: 'past-correction',
    placeholder: 'on|off',
    help: 'align outputs of input-aligned weights (default on)',
    api: 'fusion.past_correction',
  }),
  seed: declare({
    type: { kind: 'integer', min: 0, max: 2 ** 31 - 1 },
    default: 0,
    flag: 'seed',
    placeholder: 'N',
    help: 'seed for every random choice (default 0)',
    api: 'seed',
    cliRange: {},
  }),
  handleSkips: declare({
    type: on,
    default: { mlp: false, vgg: false, resnet: true },
    flag: 'handle-skips',
    placeholder: 'on|off',
    help: 'ResNet: shortcut convs reuse the block input′s map, the next conv averages it with conv2′s (default on for ResNets)',
    api: 'fusion.handle_skips',
  }),
  bnReestimate: declare({
    type: on,
    default: true,
    flag: 'bn-reestimate',
    placeholder: 'on|off',
    help: 'models with BatchNorm: re-estimate the fused running statistics on the calibration data (default on)',
    api: 'fusion.bn_reestimate',
  }),
  repair: declare({
    type: on,
    default: false,
    flag: 'repair',
    placeholder: 'on|off',
    help: 'REPAIR: set each fused channel′s mean/std to the interpolated parents′ (every family, 2 or K models; bias-free models gain biases; default off)',
    api: 'fusion.repair',
  }),
};

export type FusionOptionName = keyof typeof FUSION_OPTIONS;
type TypeOf<K extends FusionOptionName> = (typeof FUSION_OPTIONS)[K] extends OptionDeclaration<infer T> ? T : never;

/** The options a caller gave, flat and by name; what is missing takes its default. */
export type FusionOptionValues = { [K in FusionOptionName]?: OptionValue<TypeOf<K>> };

export const FUSION_OPTION_NAMES = Object.keys(FUSION_OPTIONS) as FusionOptionName[];

/** An option's default for a family (null: none). */
export function optionDefault<K extends FusionOptionName>(name: K, family: OptionFamily): OptionValue<TypeOf<K>> | null {
  const d = FUSION_OPTIONS[name].default as unknown;
  if (d !== null && typeof d === 'object' && !Array.isArray(d)) return (d as Record<OptionFamily, OptionValue<TypeOf<K>>>)[family];
  return d as OptionValue<TypeOf<K>> | null;
}

/** A value that breaks a cross-field rule; `say(label)` words it with the caller's name for the field. */
export interface OptionProblem {
  field: FusionOptionName;
  say(label: string): string;
}

/** One weight per input model. */
export function weightsProblem(weights: readonly number[] | null | undefined, modelCount: number): OptionProblem | null {
  if (!weights || weights.length === modelCount) return null;
  return { field: 'weights', say: (label) => `${label} has ${weights.length} entries but ${modelCount} models were given` };
}

/** The anchor (1-based) is one of the models. */
export function anchorProblem(anchor: number | null | undefined, modelCount: number): OptionProblem | null {
  if (anchor === undefined || anchor === null || anchor <= modelCount) return null;
  return { field: 'anchor', say: (label) => `${label} ${anchor} is beyond the ${modelCount} models given` };
}

/** Every cross-field rule, in the order the CLI has always checked them. */
export function fusionOptionProblem(values: FusionOptionValues, modelCount: number): OptionProblem | null {
  return weightsProblem(values.weights, modelCount) ?? anchorProblem(values.anchor, modelCount);
}

/** `--weights` for `weights`. */
export function flagOf(name: FusionOptionName): string {
  return `--${FUSION_OPTIONS[name].flag}`;
}

/** The declared option whose field is `field`, if any. */
export function isFusionOptionName(field: unknown): field is FusionOptionName {
  return typeof field === 'string' && Object.hasOwn(FUSION_OPTIONS, field);
}

// ------------------------------------------------------------ the API's form

type Json = Record<string, unknown>;

function at(obj: unknown, path: string[]): unknown {
  let v = obj;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Json)[key];
  }
  return v;
}

/**
 * The values a job spec (FusionSpec, or a schedule's template) gives, read
 * at each option's `api` path. The mapping's `kind` carries the explicit
 * `layers` list when it is `explicit`.
 */
export function fusionOptionValuesFromSpec(spec: unknown): FusionOptionValues {
  const values: Record<string, unknown> = {};
  for (const name of FUSION_OPTION_NAMES) {
    const decl = FUSION_OPTIONS[name];
    const path = decl.api.split('.');
    let v = at(spec, path);
    if (decl.type.kind === 'mapping' && v === 'explicit') v = [...(at(spec, [...path.slice(0, -1), 'layers']) as number[])];
    else if (Array.isArray(v)) v = [...v];
    if (v !== undefined) values[name] = v;
  }
  return values as FusionOptionValues;
}

// The finetuning and distillation options, declared in the same style beside these.
export * from './training-options.ts';
