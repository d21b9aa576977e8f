/**
 * The training options on the command line, all from the one declaration
 * (@clafusion/contract/options, training-options.ts): the hyperparameter
 * flags and their help for `fuse --finetune/--distill` and for the
 * standalone `finetune`, `distill` and `train` commands, their parsing
 * against the declared types and ranges, and the CLI's wording of the
 * declaration's problems (`--alpha`, `--distill needs --train DATA`); plus
 * the per-epoch output every training command prints.
 */
import {
  TRAINING_OPTIONS,
  TRAINING_OPTION_NAMES,
  TRAINING_SECTIONS,
  TRAINING_SECTION_NAMES,
  type GivenTraining,
  type TrainingLabels,
  type TrainingOptionDeclaration,
  type TrainingOptionName,
  type TrainingRequestValues,
  type TrainingSection,
  TrainingOptionError,
  resolveTrainingRequest,
  trainingFlagOf,
  trainingValueProblem,
} from '@clafusion/contract/options';
import { normalizedZero } from '../engine/nn/augment.ts';
import type { EpochMetrics } from '../engine/nn/train.ts';
import { NORMALIZE_PRESETS } from '../io/dataset-transforms.ts';
import type { TrainingSpec } from '../pipeline/training-settings.ts';
import { type Args, type FlagSpec, type FlagSpecs, UsageError } from './args.ts';
import { normalizationFor } from './data-arg.ts';
import type { ProgressSink } from './progress.ts';

/** The declaration's names as `fuse` says them: flags, with their placeholder where a message asks for a value. */
export const FUSE_TRAINING_LABELS: TrainingLabels = {
  name: (field, section) => (field === 'section' ? `--${TRAINING_SECTIONS[section].flag}` : trainingFlagOf(field, section)),
  withValue: (field, section) =>
    field === 'section'
      ? `--${TRAINING_SECTIONS[section].flag} ${TRAINING_SECTIONS[section].placeholder}`
      : `${trainingFlagOf(field, section)} ${TRAINING_OPTIONS[field].placeholder}`,
};

/** The standalone commands' names: their own flags (`--epochs`, `--preset`); they have no sections, the command is the section. */
const standaloneName = (field: TrainingOptionName | 'section', section: TrainingSection) =>
  field === 'section' ? section : `--${(TRAINING_OPTIONS[field] as TrainingOptionDeclaration).standaloneFlag}`;
const STANDALONE_LABELS: TrainingLabels = { name: standaloneName, withValue: standaloneName };

function helpLine(decl: TrainingOptionDeclaration, section: TrainingSection, defaultSay?: string): string {
  const d = defaultSay ?? (typeof decl.defaultHelp === 'object' ? decl.defaultHelp[section] : decl.defaultHelp);
  return d === undefined ? decl.help : `${decl.help} (default: ${d})`;
}

function flagSpec(decl: TrainingOptionDeclaration, description: string): FlagSpec {
  return { kind: 'value', placeholder: decl.placeholder, description };
}

/**
 * `fuse`'s flags of a section, in declaration order: the section's own
 * (`--finetune EPOCHS`), then each option it takes that `skip` does not
 * already hold (the distill flags skip the shared ones the finetune flags
 * list). An option of one section, or a flag of one section
 * (`--distill-preset`), says `with --distill:`.
 */
export function fuseTrainingFlags(section: TrainingSection, skip: FlagSpecs = {}): FlagSpecs {
  const own = TRAINING_SECTIONS[section];
  const flags: FlagSpecs = { [own.flag]: { kind: 'value', placeholder: own.placeholder, description: own.help } };
  for (const name of TRAINING_OPTION_NAMES) {
    const decl: TrainingOptionDeclaration = TRAINING_OPTIONS[name];
    if (!decl.sections.includes(section) || decl.flag === 'section') continue;
    const flag = trainingFlagOf(name, section).slice(2);
    if (flag in skip) continue;
    const onlyHere = decl.sections.length === 1 || typeof decl.flag === 'object';
    flags[flag] = flagSpec(decl, `${onlyHere ? `with --${own.flag}: ` : ''}${helpLine(decl, section)}`);
  }
  return flags;
}

/**
 * The hyperparameter flags the standalone `finetune`, `distill` and `train`
 * commands share (the options of both sections that have a standalone
 * flag). `defaultSay` words a default otherwise (`train` without --preset
 * uses the MLP recipe's values).
 */
export function trainingFlags(section: TrainingSection = 'finetune', defaultSay: (name: TrainingOptionName) => string | undefined = () => undefined): FlagSpecs {
  const flags: FlagSpecs = {};
  for (const name of SHARED_STANDALONE) {
    const decl: TrainingOptionDeclaration = TRAINING_OPTIONS[name];
    flags[decl.standaloneFlag!] = flagSpec(decl, helpLine(decl, section, defaultSay(name)));
  }
  return flags;
}

/** The options both sections take that the standalone commands have a flag for. */
const SHARED_STANDALONE = TRAINING_OPTION_NAMES.filter((name) => {
  const decl: TrainingOptionDeclaration = TRAINING_OPTIONS[name];
  return decl.standaloneFlag !== undefined && decl.sections.length === TRAINING_SECTION_NAMES.length;
});

/** A standalone command's own flag for an option of one section (`distill --alpha`), with its help. */
export function standaloneTrainingFlag(name: TrainingOptionName): FlagSpecs {
  const decl: TrainingOptionDeclaration = TRAINING_OPTIONS[name];
  return { [decl.standaloneFlag!]: flagSpec(decl, helpLine(decl, decl.sections[0])) };
}

/** One flag's value, parsed as its declared type (and, where the parser checks one, range: `--alpha must be between 0 and 1`). */
function readFlag(args: Args, name: TrainingOptionName, flag: string): unknown {
  const type = (TRAINING_OPTIONS[name] as TrainingOptionDeclaration).type;
  switch (type.kind) {
    case 'choice':
      return args.choice(flag, type.values, type.values[0]);
    case 'on-off':
      return args.onOff(flag, false);
    case 'integer':
      return args.integer(flag, 0, type.min);
    case 'number':
      // An exclusive bound (`above`) is the declaration's check, worded as it words it.
      return args.number(flag, 0, { min: type.min, max: type.max });
    case 'fill':
      return args.numberList(flag);
    case 'dataset':
      return args.string(flag);
  }
}

/**
 * A standalone command's value for an option (undefined: not given),
 * checked against the declared range; errors name the command's flag.
 */
export function standaloneTrainingValue(args: Args, name: TrainingOptionName): unknown {
  const flag = (TRAINING_OPTIONS[name] as TrainingOptionDeclaration).standaloneFlag!;
  if (!args.has(flag)) return undefined;
  const value = readFlag(args, name, flag);
  const problem = trainingValueProblem(name, TRAINING_OPTIONS[name].sections[0], value);
  if (problem) throw new UsageError(problem.say(STANDALONE_LABELS));
  return value;
}

/** The preset name given to a standalone command (`--preset`), checked against the known ones. */
export function presetFromArgs(args: Args): string | undefined {
  return standaloneTrainingValue(args, 'preset') as string | undefined;
}

/**
 * The standalone commands' TrainingSpec: the shared hyperparameter flags,
 * each checked against the declaration; unset fields stay undefined so the
 * preset fills them. `dataSpec` is the training data argument, whose
 * normalisation decides the augmentation fill.
 */
export function trainingSpecFromArgs(args: Args, dataSpec: string): TrainingSpec {
  const spec: Record<string, unknown> = {};
  for (const name of SHARED_STANDALONE) {
    const value = standaloneTrainingValue(args, name);
    if (value !== undefined) spec[TRAINING_OPTIONS[name].request!] = value;
  }
  if (args.has('seed')) spec.seed = args.integer('seed', 0);
  spec.augmentFill ??= augmentFillFor(dataSpec, args);
  return spec as TrainingSpec;
}

/**
 * What `fuse`'s flags ask for, in the declaration's terms: the sections
 * whose flag is given, and each option given with the section its flag
 * belongs to (null: a flag both share). `values` false: presence only, so
 * that combinations are checked before any value is parsed.
 */
function givenTrainingFromArgs(args: Args, values: boolean): GivenTraining {
  const sections = TRAINING_SECTION_NAMES.filter((s) => args.has(TRAINING_SECTIONS[s].flag));
  const given: GivenTraining['given'][number][] = [];
  const add = (name: TrainingOptionName, section: TrainingSection | null, flag: string) => {
    if (args.has(flag)) given.push({ name, section, value: values ? readFlag(args, name, flag) : undefined });
  };
  for (const name of TRAINING_OPTION_NAMES) {
    const { flag } = TRAINING_OPTIONS[name] as TrainingOptionDeclaration;
    if (flag === 'section') for (const s of TRAINING_SECTION_NAMES) add(name, s, TRAINING_SECTIONS[s].flag);
    else if (typeof flag === 'string') add(name, null, flag);
    else for (const s of TRAINING_SECTION_NAMES) add(name, s, flag[s]);
  }
  return { sections, given };
}

/**
 * `fuse --finetune/--distill`: the section asked for and its request values
 * (without the data), through the same resolver as a job spec's sections
 * (resolveTrainingRequest), worded with the flags. Null without either.
 */
export function trainingRequestFromArgs(args: Args): { section: TrainingSection; values: TrainingRequestValues; train: string } | null {
  try {
    // Combinations first (an option without its section, both sections, a missing --train), then values.
    resolveTrainingRequest(givenTrainingFromArgs(args, false));
    const given = givenTrainingFromArgs(args, true);
    const train = args.string('train');
    const fill = args.has('augment-fill') || train === undefined ? undefined : augmentFillFor(train, args);
    const seed = args.has('seed') ? args.integer('seed', 0) : undefined;
    const resolved = resolveTrainingRequest(given, { seed, defaults: fill === undefined ? {} : { augmentFill: fill } });
    return resolved && { ...resolved, train: train! };
  } catch (err) {
    if (err instanceof TrainingOptionError) throw new UsageError(err.problem.say(FUSE_TRAINING_LABELS));
    throw err;
  }
}

/** A zero pixel after the normalisation --normalize (or the source's default) applies to `dataSpec`. */
export function augmentFillFor(dataSpec: string, args: Args): number[] {
  const normalization = normalizationFor(dataSpec, args);
  if (normalization === undefined) return [0];
  const { mean, std } = typeof normalization === 'string' ? NORMALIZE_PRESETS[normalization] : normalization;
  return normalizedZero(mean, std);
}

/** One line per epoch: loss, accuracies and learning rate. */
export function formatEpoch(m: EpochMetrics, epochs: number, label = ''): string {
  const evalPart = m.evalAccuracy === undefined ? '' : `  eval acc ${(m.evalAccuracy * 100).toFixed(2)}%`;
  return `${label}epoch ${m.epoch}/${epochs}  loss ${m.loss.toFixed(4)}  train acc ${(m.trainAccuracy * 100).toFixed(2)}%${evalPart}  lr ${m.lr}\n`;
}

/**
 * Drives a progress bar per batch and prints the epoch lines to `stream`
 * (clearing the bar first so a terminal line is not overwritten).
 */
export function trainingPrinter(progress: ProgressSink, stream: NodeJS.WritableStream, quiet: boolean) {
  return {
    batch(label: string, epoch: number, epochs: number, fraction: number, loss: number): void {
      progress.update(`${label}${epoch}/${epochs}`, fraction, `loss ${loss.toFixed(4)}`);
    },
    epoch(label: string, metrics: EpochMetrics, epochs: number): void {
      progress.done();
      if (!quiet) stream.write(formatEpoch(metrics, epochs, label));
    },
  };
}
