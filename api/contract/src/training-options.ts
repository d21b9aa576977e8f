/**
 * The finetuning and distillation options, declared once beside the fusion
 * options (options.ts) and in the same style: name, type, default, range,
 * help text, CLI flag and API field. Everything else derives from this
 * table: the `fuse --finetune/--distill` flags and the hyperparameter flags
 * the standalone `finetune`, `distill` and `train` commands share
 * (gpu-runner/src/cli/training-flags.ts), the zod FinetuneSpec and
 * DistillSpec (spec.ts, and so OpenAPI), and the pipeline's FinetuneRequest
 * and DistillRequest, which both surfaces build with resolveTrainingRequest
 * below. The preset fills what is left (resolveTrainingSettings in
 * gpu-runner/src/pipeline/training-settings.ts, which knows the presets);
 * gpu-runner/src/worker/option-parity.test.ts checks that the options
 * declared "the preset's" are the ones it fills, and every option flag
 * against field.
 *
 * A training *section* is one step after fusion: `finetune` (§10.1) or
 * `distill` (§10.2). On `fuse` a section is asked for by its flag, whose
 * value is the epochs (`--finetune EPOCHS`); in the API by its object in the
 * job spec (`finetune: {epochs, …}`). Options belong to one section or both;
 * most flags are shared by both sections (`--lr`), a few have one flag per
 * section (`--finetune-preset`, `--distill-preset`).
 *
 * Pure data and small pure functions (no zod, no I/O). Errors name the
 * option (`alpha`, `train`) and the section; each surface words them through
 * `TrainingOptionProblem.say(labels)`: the CLI with its flags (`--alpha`),
 * the API with the field path (`distill.alpha`).
 */

export type TrainingSection = 'finetune' | 'distill';
export const TRAINING_SECTION_NAMES = ['finetune', 'distill'] as const satisfies readonly TrainingSection[];

/** The steps after fusion: what the section's flag (`fuse --finetune EPOCHS`) and object (`finetune`) are. */
export const TRAINING_SECTIONS = {
  finetune: {
    flag: 'finetune',
    placeholder: 'EPOCHS',
    help: 'finetune the fused model for EPOCHS epochs after fusion (needs --train); the file written is the best epoch',
  },
  distill: {
    flag: 'distill',
    placeholder: 'EPOCHS',
    help: 'distil the input models into the fused model for EPOCHS epochs after fusion (needs --train, --alpha, --temperature); the file written is the best of before and every epoch',
  },
} as const satisfies Record<TrainingSection, { flag: string; placeholder: string; help: string }>;

/**
 * The hyperparameter presets of engine/nn/presets.ts (the paper's Tables
 * 6–8). Listed here because the contract does not import the engine;
 * spec-options.test.ts checks that the two lists agree.
 */
export const TRAINING_PRESETS = [
  'mlp-mnist',
  'vgg-cifar',
  'resnet-cifar',
  'finetune-resnet-cifar',
  'finetune-vgg-cifar',
  'finetune-resnet-tinyimagenet',
  'finetune-mlp-mnist',
  'distill-vgg-cifar',
  'distill-resnet-cifar',
] as const;

export type TrainingOptionType =
  | { kind: 'choice'; values: readonly string[] }
  /** A boolean: `on|off` on the CLI, true/false in the API. */
  | { kind: 'on-off' }
  /** `above`: an exclusive lower bound (the temperature is > 0). */
  | { kind: 'number'; min?: number; max?: number; above?: number }
  | { kind: 'integer'; min?: number }
  /** The augmentation's padded pixel: one number for every channel or one per channel (a comma-separated list on the CLI). */
  | { kind: 'fill' }
  /** Labelled training data: a DATA argument on the CLI (a file, mnist:train, …), an uploaded file `{file}` in the API. */
  | { kind: 'dataset' };

/** The value an option of type T takes once parsed (CLI) or read (API); a dataset is the surface's own reference to it. */
export type TrainingOptionValue<T extends TrainingOptionType> = T extends { kind: 'choice'; values: readonly (infer V)[] }
  ? V
  : T extends { kind: 'on-off' }
    ? boolean
    : T extends { kind: 'number' | 'integer' }
      ? number
      : T extends { kind: 'fill' }
        ? number | number[]
        : unknown;

/** The fields of a preset (engine/nn/presets.ts TrainingPreset) an option defaults to. */
export type PresetField = 'epochs' | 'lr' | 'momentum' | 'weightDecay' | 'batchSize' | 'augment';

export interface TrainingOptionDeclaration<T extends TrainingOptionType = TrainingOptionType> {
  type: T;
  /** The sections that take the option. */
  sections: readonly TrainingSection[];
  /**
   * The default: a value, `{ preset: field }` (the preset's value of that
   * field; the preset itself defaults to the family's for the section), or
   * null: none, the option is required or the pipeline decides (the preset).
   */
  default: TrainingOptionValue<T> | { preset: PresetField } | null;
  /** The default in the help's words (`the preset's`), or one per section; absent: none to say (a required option) or said in `help`. */
  defaultHelp?: string | Record<TrainingSection, string>;
  /** A section needs the option (`distill` needs `alpha`); the text says what it is, in the "needs" message. */
  required?: string;
  /**
   * `fuse`'s flag: one for every section (`lr`), one per section
   * (`finetune-preset`, `distill-preset`), or `section` for the section's
   * own flag (`--finetune EPOCHS` gives the epochs).
   */
  flag: string | Record<TrainingSection, string> | 'section';
  /** The flag of the standalone `finetune`, `distill` and `train` commands, where they take the option; absent: `fuse` only. */
  standaloneFlag?: string;
  /** Placeholder in the CLI help. */
  placeholder: string;
  /** The CLI help line, without the default (help lines add `(default: …)`). */
  help: string;
  /** The field's key in the section's object (`distill.alpha`). */
  api: string;
  /** The field of the pipeline's FinetuneRequest/DistillRequest (TrainingSpec) it sets; absent for the data, which each surface loads. */
  request?: string;
}

const declare = <T extends TrainingOptionType>(d: TrainingOptionDeclaration<T>): TrainingOptionDeclaration<T> => d;
const BOTH = ['finetune', 'distill'] as const;

/**
 * In this order: the order of the fields in the API's sections, and of the
 * flags in `--help`.
 */
export const TRAINING_OPTIONS = {
  epochs: declare({
    type: { kind: 'integer', min: 0 },
    sections: BOTH,
    default: { preset: 'epochs' },
    defaultHelp: "the preset's",
    flag: 'section',
    standaloneFlag: 'epochs',
    placeholder: 'N',
    help: 'epochs',
    api: 'epochs',
    request: 'epochs',
  }),
  train: declare({
    type: { kind: 'dataset' },
    sections: BOTH,
    default: null,
    required: 'labelled training data',
    flag: 'train',
    placeholder: 'DATA',
    help: 'labelled training data for --finetune or --distill',
    api: 'train',
  }),
  alpha: declare({
    type: { kind: 'number', min: 0, max: 1 },
    sections: ['distill'],
    default: null,
    required: 'weight of the distillation term in [0, 1]',
    flag: 'alpha',
    standaloneFlag: 'alpha',
    placeholder: 'A',
    help: "weight of the distillation term in [0, 1] (the paper's γ)",
    api: 'alpha',
    request: 'alpha',
  }),
  temperature: declare({
    type: { kind: 'number', above: 0 },
    sections: ['distill'],
    default: null,
    required: 'softmax temperature > 0',
    flag: 'temperature',
    standaloneFlag: 'temperature',
    placeholder: 'T',
    help: 'softmax temperature (> 0)',
    api: 'temperature',
    request: 'temperature',
  }),
  teachers: declare({
    type: { kind: 'choice', values: ['inputs', 'deeper'] as const },
    sections: ['distill'],
    default: 'inputs',
    flag: 'distill-teachers',
    placeholder: 'inputs|deeper',
    help: 'every input model teaches, their mean logit the target (default), or only the deepest input',
    api: 'teachers',
    request: 'teachers',
  }),
  preset: declare({
    type: { kind: 'choice', values: TRAINING_PRESETS },
    sections: BOTH,
    default: null,
    defaultHelp: {
      finetune: "the family's finetune preset: finetune-mlp-mnist, finetune-vgg-cifar or finetune-resnet-cifar",
      distill: "the family's distillation preset: distill-vgg-cifar, distill-resnet-cifar, or finetune-mlp-mnist for MLPs",
    },
    flag: { finetune: 'finetune-preset', distill: 'distill-preset' },
    standaloneFlag: 'preset',
    placeholder: 'NAME',
    help: `hyperparameter preset from the paper (${TRAINING_PRESETS.join('|')})`,
    api: 'preset',
    request: 'preset',
  }),
  lr: declare({
    type: { kind: 'number', min: 0 },
    sections: BOTH,
    default: { preset: 'lr' },
    defaultHelp: "the preset's",
    flag: 'lr',
    standaloneFlag: 'lr',
    placeholder: 'LR',
    help: 'learning rate',
    api: 'lr',
    request: 'lr',
  }),
  momentum: declare({
    type: { kind: 'number', min: 0 },
    sections: BOTH,
    default: { preset: 'momentum' },
    defaultHelp: "the preset's",
    flag: 'momentum',
    standaloneFlag: 'momentum',
    placeholder: 'M',
    help: 'SGD momentum',
    api: 'momentum',
    request: 'momentum',
  }),
  weightDecay: declare({
    type: { kind: 'number', min: 0 },
    sections: BOTH,
    default: { preset: 'weightDecay' },
    defaultHelp: "the preset's",
    flag: 'weight-decay',
    standaloneFlag: 'weight-decay',
    placeholder: 'WD',
    help: 'L2 weight decay',
    api: 'weight_decay',
    request: 'weightDecay',
  }),
  batchSize: declare({
    type: { kind: 'integer', min: 1 },
    sections: BOTH,
    default: { preset: 'batchSize' },
    defaultHelp: "the preset's",
    flag: 'batch',
    standaloneFlag: 'batch',
    placeholder: 'N',
    help: 'batch size',
    api: 'batch_size',
    request: 'batchSize',
  }),
  augment: declare({
    type: { kind: 'on-off' },
    sections: BOTH,
    default: { preset: 'augment' },
    defaultHelp: "the preset's",
    flag: 'augment',
    standaloneFlag: 'augment',
    placeholder: 'on|off',
    help: 'random crop (padding 4) and horizontal flip of image batches',
    api: 'augment',
    request: 'augment',
  }),
  augmentFill: declare({
    type: { kind: 'fill' },
    sections: BOTH,
    // The API uses uploaded datasets as given, as the CLI uses files without
    // --normalize, so a zero pixel is 0 there; the CLI's default is the zero
    // pixel after the data's --normalize (training-flags.ts augmentFillFor).
    default: 0,
    defaultHelp: "a zero pixel after the data's --normalize, (0 − mean)/std",
    flag: 'augment-fill',
    standaloneFlag: 'augment-fill',
    placeholder: 'V[,V,…]',
    help: 'padded pixel value per channel',
    api: 'augment_fill',
    request: 'augmentFill',
  }),
  models: declare({
    type: { kind: 'choice', values: ['fused', 'all'] as const },
    sections: ['finetune'],
    default: 'fused',
    flag: 'finetune-models',
    placeholder: 'fused|all',
    help: 'finetune only the fused model (default, --retrain-geometric-only) or also the inputs and depth-aligned models (main.py), reported in the report',
    api: 'models',
    request: 'models',
  }),
};

export type TrainingOptionName = keyof typeof TRAINING_OPTIONS;
type TrainingTypeOf<K extends TrainingOptionName> = (typeof TRAINING_OPTIONS)[K] extends TrainingOptionDeclaration<infer T> ? T : never;

/** The options a caller gave for one section, flat and by name. */
export type TrainingOptionValues = { [K in TrainingOptionName]?: TrainingOptionValue<TrainingTypeOf<K>> };

export const TRAINING_OPTION_NAMES = Object.keys(TRAINING_OPTIONS) as TrainingOptionName[];

/** The options a section takes, in declaration order. */
export function trainingOptionsOf(section: TrainingSection): TrainingOptionName[] {
  return TRAINING_OPTION_NAMES.filter((name) => TRAINING_OPTIONS[name].sections.includes(section));
}

/** `fuse`'s flag for an option in a section (`--finetune-preset`, `--lr`; the epochs: `--finetune`). */
export function trainingFlagOf(name: TrainingOptionName, section: TrainingSection): string {
  const { flag } = TRAINING_OPTIONS[name] as TrainingOptionDeclaration;
  return `--${flag === 'section' ? TRAINING_SECTIONS[section].flag : typeof flag === 'string' ? flag : flag[section]}`;
}

/** The API's dot path of an option in a section (`distill.alpha`, `finetune.train.file`'s parent `finetune.train`). */
export function trainingFieldOf(name: TrainingOptionName, section: TrainingSection): string {
  return `${section}.${TRAINING_OPTIONS[name].api}`;
}

/** The declared option whose name is `field`, if any. */
export function isTrainingOptionName(field: unknown): field is TrainingOptionName {
  return typeof field === 'string' && Object.hasOwn(TRAINING_OPTIONS, field);
}

// ------------------------------------------------------------ checks

/** How a surface names an option or a section's switch (the option `section` means the section itself). */
export interface TrainingLabels {
  /** `--alpha` / `distill.alpha`; the section itself: `--distill` / `distill`. */
  name(field: TrainingOptionName | 'section', section: TrainingSection): string;
  /** The same with what it takes, where the surface says it: `--alpha A`, `--distill EPOCHS` (the API: the path). */
  withValue(field: TrainingOptionName | 'section', section: TrainingSection): string;
}

/** A value or a combination the training options refuse; `say(labels)` words it with the caller's names. */
export interface TrainingOptionProblem {
  /** The option at fault, or `section` when the problem is the sections asked for. */
  field: TrainingOptionName | 'section';
  section: TrainingSection;
  say(labels: TrainingLabels): string;
}

/** An option's value against its declared range, named as the CLI's own parser would (`must be between 0 and 1`). */
export function trainingValueProblem(name: TrainingOptionName, section: TrainingSection, value: unknown): TrainingOptionProblem | null {
  const type: TrainingOptionType = TRAINING_OPTIONS[name].type;
  const problem = (what: string): TrainingOptionProblem => ({ field: name, section, say: (l) => `${l.name(name, section)} must be ${what}, got ${String(value)}` });
  switch (type.kind) {
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return problem(type.kind === 'integer' ? 'an integer' : 'a number');
      if (type.kind === 'integer' && !Number.isSafeInteger(value)) return problem('an integer');
      if (type.kind === 'number' && type.above !== undefined && !(value > type.above)) return problem(type.above === 0 ? 'a positive number' : `> ${type.above}`);
      const min = type.min ?? -Infinity;
      const max = type.kind === 'number' ? (type.max ?? Infinity) : Infinity;
      if (value < min || value > max) return problem(max === Infinity ? `≥ ${min}` : `between ${min} and ${max}`);
      return null;
    }
    case 'choice':
      return type.values.includes(value as string) ? null : problem(`one of ${type.values.join('|')}`);
    case 'on-off':
      return typeof value === 'boolean' ? null : problem('on or off');
    case 'fill': {
      const fills = Array.isArray(value) ? value : [value];
      return fills.length > 0 && fills.every((v) => typeof v === 'number' && Number.isFinite(v)) ? null : problem('finite numbers');
    }
    case 'dataset':
      return null;
  }
}

/**
 * What a caller asked for: the sections (`fuse --finetune`, a spec's
 * `finetune` object) and every option it gave, each with the section whose
 * flag or field gave it (null: a flag both sections share, like `--lr`).
 */
export interface GivenTraining {
  sections: readonly TrainingSection[];
  given: readonly { name: TrainingOptionName; section: TrainingSection | null; value: unknown }[];
}

/**
 * Every rule across the options, in the order `fuse` has always checked
 * them: an option of a section not asked for (`--alpha` without
 * `--distill`), both sections, a required option missing (`train`, `alpha`,
 * `temperature`), then each value against its range.
 */
export function trainingOptionProblem({ sections, given }: GivenTraining): TrainingOptionProblem | null {
  const asked = (s: TrainingSection) => sections.includes(s);
  // A shared flag (`--lr`) applies to whichever section is asked for; a section's own option or flag only to that one.
  const sectionsOf = (g: GivenTraining['given'][number]) => (g.section === null ? TRAINING_OPTIONS[g.name].sections : [g.section]);
  for (const section of TRAINING_SECTION_NAMES) {
    if (asked(section)) continue;
    const stray = given.find((g) => sectionsOf(g).includes(section) && !sectionsOf(g).some(asked));
    if (stray) return { field: stray.name, section, say: (l) => `${l.name(stray.name, section)} only applies with ${l.withValue('section', section)}` };
  }
  if (asked('finetune') && asked('distill')) {
    return { field: 'section', section: 'distill', say: (l) => `${l.name('section', 'finetune')} and ${l.name('section', 'distill')} exclude each other: a fusion either finetunes or distils the fused model` };
  }
  for (const section of sections) {
    for (const name of trainingOptionsOf(section)) {
      const required = (TRAINING_OPTIONS[name] as TrainingOptionDeclaration).required;
      if (required !== undefined && !given.some((g) => g.name === name)) {
        return { field: name, section, say: (l) => `${l.name('section', section)} needs ${l.withValue(name, section)} (${required})` };
      }
      const value = given.find((g) => g.name === name)?.value;
      const problem = value === undefined ? null : trainingValueProblem(name, section, value);
      if (problem) return problem;
    }
  }
  return null;
}

/** The pipeline's request fields of a section (TrainingSpec plus `models`/`teachers`/`alpha`/`temperature`), without the data. */
export interface TrainingRequestValues {
  preset?: string;
  epochs?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  batchSize?: number;
  augment?: boolean;
  augmentFill: number[];
  seed?: number;
  models?: 'fused' | 'all';
  teachers?: 'inputs' | 'deeper';
  alpha?: number;
  temperature?: number;
}

/** A TrainingOptionProblem thrown: the message names the option (`alpha must be …`), `problem.say` words it per surface. */
export class TrainingOptionError extends Error {
  constructor(readonly problem: TrainingOptionProblem) {
    super(problem.say({ name: (f, s) => (f === 'section' ? s : f), withValue: (f, s) => (f === 'section' ? s : f) }));
    this.name = 'TrainingOptionError';
  }
}

/**
 * The one resolver for `fuse --finetune/--distill` and the API's
 * `finetune`/`distill` sections: checks the rules above (throwing a
 * TrainingOptionError), then gives the section asked for (null: none) and
 * its request values: each option given, the declared defaults that are not
 * the preset's (`models: 'fused'`, `teachers: 'inputs'`, the fill), and the
 * seed when one was given. Options whose default is the preset's stay unset:
 * resolveTrainingSettings fills them from the preset, which also depends on
 * the models' family. `defaults` overrides a declared default (the CLI's
 * fill follows --normalize).
 */
export function resolveTrainingRequest(
  asked: GivenTraining,
  extra: { seed?: number; defaults?: TrainingOptionValues } = {},
): { section: TrainingSection; values: TrainingRequestValues } | null {
  const problem = trainingOptionProblem(asked);
  if (problem) throw new TrainingOptionError(problem);
  const section = asked.sections[0];
  if (section === undefined) return null;
  const values: Record<string, unknown> = {};
  for (const name of trainingOptionsOf(section)) {
    const decl: TrainingOptionDeclaration = TRAINING_OPTIONS[name];
    if (decl.request === undefined) continue;
    const given = asked.given.find((g) => g.name === name)?.value;
    const fallback = extra.defaults?.[name] ?? (presetFieldOf(name) === null ? decl.default : undefined);
    const value = given ?? fallback;
    if (value === undefined || value === null) continue;
    values[decl.request] = decl.type.kind === 'fill' ? (Array.isArray(value) ? [...value] : [value]) : value;
  }
  if (extra.seed !== undefined) values.seed = extra.seed;
  return { section, values: values as unknown as TrainingRequestValues };
}

/** The preset field an option defaults to, if its default is the preset's. */
export function presetFieldOf(name: TrainingOptionName): PresetField | null {
  const d = (TRAINING_OPTIONS[name] as TrainingOptionDeclaration).default;
  return d !== null && typeof d === 'object' && 'preset' in d ? (d as { preset: PresetField }).preset : null;
}

// ------------------------------------------------------------ the API's form

/**
 * What a job spec's `finetune`/`distill` sections give, in resolveTrainingRequest's
 * terms: every field present, read at each option's `api` key.
 */
export function givenTrainingFromSpec(spec: { finetune?: object; distill?: object }): GivenTraining {
  const sections = TRAINING_SECTION_NAMES.filter((s) => spec[s] !== undefined);
  const given: GivenTraining['given'][number][] = [];
  for (const section of sections) {
    const object = spec[section] as Record<string, unknown>;
    for (const name of trainingOptionsOf(section)) {
      const value = object[TRAINING_OPTIONS[name].api];
      if (value !== undefined) given.push({ name, section, value });
    }
  }
  return { sections, given };
}

/** The API's names: the field path in the job spec (`distill.alpha`; a section: `distill`). */
export const API_TRAINING_LABELS: TrainingLabels = {
  name: (field, section) => (field === 'section' ? section : trainingFieldOf(field, section)),
  withValue: (field, section) => (field === 'section' ? section : trainingFieldOf(field, section)),
};

/** The field path a problem names in the API (`distill.alpha`, or the section). */
export function apiFieldOf(problem: TrainingOptionProblem): string {
  return problem.field === 'section' ? problem.section : trainingFieldOf(problem.field, problem.section);
}
