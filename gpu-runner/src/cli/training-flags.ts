/**
 * Flags shared by `finetune`, `distill`, `train` and `fuse --finetune`: the
 * hyperparameters a preset (Tables 6–8) provides, each overridable, plus the
 * per-epoch output every training command prints.
 */
import { normalizedZero } from '../engine/nn/augment.ts';
import type { EpochMetrics } from '../engine/nn/train.ts';
import { PRESETS, isPresetName } from '../engine/nn/presets.ts';
import { NORMALIZE_PRESETS } from '../io/dataset-transforms.ts';
import type { TrainingSpec } from '../pipeline/training-settings.ts';
import { type Args, type FlagSpecs, UsageError } from './args.ts';
import { normalizationFor } from './data-arg.ts';
import type { ProgressSink } from './progress.ts';

const PRESET_NAMES = Object.keys(PRESETS).join('|');

/** Hyperparameter flags; `presetFlag` and `epochsFlag` let `fuse` name them --finetune-preset and --finetune. */
export function trainingFlags(presetFlag = 'preset', epochsFlag = 'epochs'): FlagSpecs {
  const flags: FlagSpecs = {
    [presetFlag]: { kind: 'value', placeholder: 'NAME', description: `hyperparameter preset from the paper (${PRESET_NAMES}); default: the family's` },
    lr: { kind: 'value', placeholder: 'LR', description: 'learning rate (default: the preset\'s)' },
    momentum: { kind: 'value', placeholder: 'M', description: 'SGD momentum (default: the preset\'s)' },
    'weight-decay': { kind: 'value', placeholder: 'WD', description: 'L2 weight decay (default: the preset\'s)' },
    batch: { kind: 'value', placeholder: 'N', description: 'batch size (default: the preset\'s)' },
    augment: { kind: 'value', placeholder: 'on|off', description: 'random crop (padding 4) and horizontal flip of image batches (default: the preset\'s)' },
    'augment-fill': {
      kind: 'value',
      placeholder: 'V[,V,…]',
      description: 'padded pixel value per channel (default: a zero pixel after the data\'s --normalize, (0 − mean)/std)',
    },
  };
  if (epochsFlag === 'epochs') flags.epochs = { kind: 'value', placeholder: 'N', description: 'epochs (default: the preset\'s)' };
  return flags;
}

/** The preset name given, checked against the known ones. */
export function presetFromArgs(args: Args, flag = 'preset'): string | undefined {
  const name = args.string(flag);
  if (name !== undefined && !isPresetName(name)) throw new UsageError(`--${flag} must be one of ${PRESET_NAMES}, got "${name}"`);
  return name;
}

/**
 * The TrainingSpec the flags give; unset fields stay undefined so the
 * preset fills them. `dataSpec` is the training data argument, whose
 * normalisation decides the augmentation fill.
 */
export function trainingSpecFromArgs(args: Args, dataSpec: string, presetFlag = 'preset', epochsFlag = 'epochs'): TrainingSpec {
  const spec: TrainingSpec = {};
  const preset = presetFromArgs(args, presetFlag);
  if (preset !== undefined) spec.preset = preset;
  if (args.has(epochsFlag)) spec.epochs = args.integer(epochsFlag, 0, 0);
  if (args.has('lr')) spec.lr = args.number('lr', 0, { min: 0 });
  if (args.has('momentum')) spec.momentum = args.number('momentum', 0, { min: 0 });
  if (args.has('weight-decay')) spec.weightDecay = args.number('weight-decay', 0, { min: 0 });
  if (args.has('batch')) spec.batchSize = args.integer('batch', 1, 1);
  if (args.has('augment')) spec.augment = args.onOff('augment', false);
  if (args.has('seed')) spec.seed = args.integer('seed', 0);
  spec.augmentFill = args.numberList('augment-fill') ?? augmentFillFor(dataSpec, args);
  return spec;
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
