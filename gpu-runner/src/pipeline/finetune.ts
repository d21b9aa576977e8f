/**
 * Finetuning and knowledge distillation as steps after fusion (docs/algorithm.md
 * §10), shared by `clafusion fuse --finetune`, `clafusion finetune`,
 * `clafusion distill` and the fusion pipeline.
 *
 * Both run engine/nn/train.ts with resolved settings (training-settings.ts)
 * and keep the checkpoint the paper reports when an eval set is given and the
 * preset reports 'best': finetuning keeps the best epoch (the accuracy before
 * finetuning is not a candidate), distillation the best of the student before
 * distillation and after every epoch. Otherwise the last epoch is kept.
 */
import type { Model } from '@clafusion/model-format/arch';
import type { LabeledData } from '../engine/nn/data.ts';
import { type EpochMetrics, type TrainOptions, type TrainResult, train } from '../engine/nn/train.ts';
import type { ReportTraining } from './report.ts';
import { type DistillSpec, type TrainingKind, type TrainingSettings, type TrainingSpec, resolveTrainingSettings } from './training-settings.ts';

export type TrainingEvent =
  | {
      type: 'batch';
      kind: TrainingKind;
      /** 1-based. */
      epoch: number;
      epochs: number;
      /** 1-based. */
      batch: number;
      batches: number;
      loss: number;
      /** Progress over the whole run, 0..1. */
      fraction: number;
    }
  | { type: 'epoch'; kind: TrainingKind; epochs: number; metrics: EpochMetrics };

export interface TrainingContext {
  onEvent?: (event: TrainingEvent) => void;
  signal?: AbortSignal;
  /** The fusion seed, used when the spec sets none. Default 0. */
  defaultSeed?: number;
}

export interface TrainingOutcome {
  kind: TrainingKind;
  /** The weights to keep (see the module comment). */
  model: Model;
  /** 1-based epoch `model` comes from; 0 when it is the model as it was before training. */
  keptEpoch: number;
  history: EpochMetrics[];
  /** Eval accuracy before training, when an eval set was given. */
  before?: number;
  /** Eval accuracy of `model`: the number §10 reports. */
  reported?: number;
  settings: TrainingSettings;
}

/** Finetunes `model` (§10.1): cross-entropy, the preset's SGD and schedule. */
export function finetuneModel(
  model: Model,
  trainData: LabeledData,
  evalData: LabeledData | undefined,
  spec: TrainingSpec,
  ctx: TrainingContext = {},
): Promise<TrainingOutcome> {
  const settings = resolveTrainingSettings(model.arch.family, 'finetune', spec, ctx.defaultSeed);
  return run('finetune', model, trainData, evalData, settings, { threads: spec.threads }, ctx);
}

/**
 * Distils `teachers` into `student` (§10.2): the loss α·T²·KL + (1 − α)·CE
 * against the teachers' mean logit on the same augmented batch.
 */
export function distillModel(
  student: Model,
  teachers: readonly Model[],
  trainData: LabeledData,
  evalData: LabeledData | undefined,
  spec: DistillSpec,
  ctx: TrainingContext = {},
): Promise<TrainingOutcome> {
  const settings = resolveTrainingSettings(student.arch.family, 'distill', spec, ctx.defaultSeed);
  return run('distill', student, trainData, evalData, settings, {
    teacher: { models: teachers, alpha: settings.alpha!, temperature: settings.temperature! },
    threads: spec.threads,
  }, ctx);
}

async function run(
  kind: TrainingKind,
  model: Model,
  trainData: LabeledData,
  evalData: LabeledData | undefined,
  settings: TrainingSettings,
  extra: Pick<TrainOptions, 'teacher' | 'threads'>,
  ctx: TrainingContext,
): Promise<TrainingOutcome> {
  const { epochs } = settings;
  const result = await train(model, trainData, {
    ...extra,
    lr: settings.lr,
    momentum: settings.momentum,
    weightDecay: settings.weightDecay,
    batchSize: settings.batchSize,
    epochs,
    seed: settings.seed,
    schedule: settings.schedule ?? undefined,
    augment: settings.augment ? { padding: 4, flip: true, fill: settings.augmentFill } : undefined,
    eval: evalData,
    // "Before" is part of what both report; it costs one eval pass.
    evalInitial: evalData !== undefined,
    signal: ctx.signal,
    onProgress: (p) =>
      ctx.onEvent?.({ type: 'batch', kind, ...p, epochs, fraction: (p.epoch - 1 + p.batch / p.batches) / Math.max(1, epochs) }),
    onEpoch: (metrics) => ctx.onEvent?.({ type: 'epoch', kind, epochs, metrics }),
  });
  const kept = keptCheckpoint(result, settings, evalData !== undefined);
  const outcome: TrainingOutcome = { kind, model: kept.model, keptEpoch: kept.epoch, history: result.history, settings: { ...settings, threads: result.threads } };
  if (result.initialEvalAccuracy !== undefined) outcome.before = result.initialEvalAccuracy;
  if (kept.evalAccuracy !== undefined) outcome.reported = kept.evalAccuracy;
  return outcome;
}

function keptCheckpoint(result: TrainResult, settings: TrainingSettings, hasEval: boolean): { model: Model; epoch: number; evalAccuracy?: number } {
  if (hasEval && settings.report === 'best' && result.reported !== undefined) return result.reported;
  const last = result.history.at(-1);
  // No epoch ran: the returned model is the input as it was.
  if (last === undefined) return { model: result.model, epoch: 0, evalAccuracy: result.initialEvalAccuracy };
  return { model: result.model, epoch: last.epoch, evalAccuracy: last.evalAccuracy };
}

/** The report's `training` record of one run. */
export function trainingReport(outcome: TrainingOutcome): ReportTraining {
  const report: ReportTraining = { kind: outcome.kind, history: outcome.history.map((e) => ({ ...e })), settings: { ...outcome.settings } };
  if (outcome.keptEpoch > 0) report.bestEpoch = outcome.keptEpoch;
  else report.keptInitial = true;
  if (outcome.before !== undefined) report.before = outcome.before;
  if (outcome.reported !== undefined) report.reported = outcome.reported;
  return report;
}
