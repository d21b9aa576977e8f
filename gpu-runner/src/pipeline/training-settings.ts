/**
 * Hyperparameters for finetuning and distillation: a preset from the paper
 * (engine/nn/presets.ts, Tables 6–8) with any field overridden, resolved
 * into one flat, fully specified record that goes into the report as-is, so
 * a run can be repeated from its report.
 */
import type { Family } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { checkDistillOptions } from '../engine/nn/distill-loss.ts';
import { PRESETS, type PresetName, defaultPreset, isPresetName } from '../engine/nn/presets.ts';

export type TrainingKind = 'finetune' | 'distill';

/** What a caller may set; everything left out comes from the preset. */
export interface TrainingSpec {
  /** A preset name (see PRESETS); default: the family's default for the purpose. */
  preset?: string;
  epochs?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  batchSize?: number;
  /** MultiStepLR milestones and gamma; null for a constant rate. */
  schedule?: { milestones: number[]; gamma: number } | null;
  /** CIFAR crop (padding 4) and flip. */
  augment?: boolean;
  /**
   * Value of padded pixels. The data is normalised, and torchvision pads the
   * raw image with 0, so this should be (0 − mean)/std per channel
   * (normalizedZero in engine/nn/augment.ts). Default 0 (data used raw).
   */
  augmentFill?: number | number[];
  /** Seeds shuffling and augmentation. */
  seed?: number;
  /**
   * Worker threads to train on, data-parallel (engine/nn/train.ts); default 1.
   * Results depend on it through float32 rounding only. Not a preset field.
   */
  threads?: number;
}

export interface DistillSpec extends TrainingSpec {
  /** Weight of the distillation term (the paper's γ). */
  alpha: number;
  temperature: number;
}

export interface TrainingSettings {
  preset: PresetName;
  epochs: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  batchSize: number;
  schedule: { milestones: number[]; gamma: number } | null;
  augment: boolean;
  augmentFill: number | number[];
  seed: number;
  /** Which checkpoint is kept and reported: the preset's choice ('best' for every finetune/distill preset). */
  report: 'best' | 'last';
  alpha?: number;
  temperature?: number;
  /** In a run's outcome: the threads it trained on (the same seed and count repeat a run exactly). */
  threads?: number;
}

function invalid(field: string, message: string): FusionError {
  return new FusionError('INVALID_ARGUMENT', message, { field });
}

export function resolveTrainingSettings(family: Family, kind: TrainingKind, spec: TrainingSpec | DistillSpec, defaultSeed = 0): TrainingSettings {
  const name = spec.preset ?? defaultPreset(family, kind);
  if (!isPresetName(name)) throw invalid('preset', `unknown preset "${name}" (known: ${Object.keys(PRESETS).join(', ')})`);
  const preset = PRESETS[name];
  const presetSchedule = 'schedule' in preset ? preset.schedule : undefined;
  const settings: TrainingSettings = {
    preset: name,
    epochs: spec.epochs ?? preset.epochs,
    lr: spec.lr ?? preset.lr,
    momentum: spec.momentum ?? preset.momentum,
    weightDecay: spec.weightDecay ?? preset.weightDecay,
    batchSize: spec.batchSize ?? preset.batchSize,
    schedule: spec.schedule === undefined ? (presetSchedule ? { milestones: [...presetSchedule.milestones], gamma: presetSchedule.gamma } : null) : spec.schedule,
    augment: spec.augment ?? preset.augment,
    augmentFill: spec.augmentFill ?? 0,
    seed: spec.seed ?? defaultSeed,
    report: preset.report,
  };
  if (!Number.isInteger(settings.epochs) || settings.epochs < 0) invalidNumber('epochs', settings.epochs, 'a non-negative integer');
  if (!(Number.isFinite(settings.lr) && settings.lr >= 0)) invalidNumber('lr', settings.lr, 'a number ≥ 0');
  if (!(Number.isFinite(settings.momentum) && settings.momentum >= 0)) invalidNumber('momentum', settings.momentum, 'a number ≥ 0');
  if (!(Number.isFinite(settings.weightDecay) && settings.weightDecay >= 0)) invalidNumber('weightDecay', settings.weightDecay, 'a number ≥ 0');
  if (!Number.isInteger(settings.batchSize) || settings.batchSize < 1) invalidNumber('batchSize', settings.batchSize, 'a positive integer');
  if (!Number.isSafeInteger(settings.seed)) invalidNumber('seed', settings.seed, 'an integer');
  const fills = typeof settings.augmentFill === 'number' ? [settings.augmentFill] : settings.augmentFill;
  if (fills.length === 0 || !fills.every(Number.isFinite)) throw invalid('augmentFill', `augmentFill must be finite numbers, got ${JSON.stringify(settings.augmentFill)}`);
  if (kind === 'distill') {
    const { alpha, temperature } = spec as DistillSpec;
    checkDistillOptions({ alpha, temperature });
    settings.alpha = alpha;
    settings.temperature = temperature;
  }
  return settings;
}

function invalidNumber(field: string, value: number, what: string): never {
  throw invalid(field, `${field} must be ${what}, got ${value}`);
}
