/**
 * The finetuning step of a fusion run (docs/algorithm.md §10.1): the fused model,
 * and optionally the inputs and depth-aligned models as the official
 * `main.py` does by default. `fused` alone is `--retrain-geometric-only`, the
 * multi-model scripts' choice and the default here, because the others only
 * serve as comparison points and multiply the cost.
 *
 * Every model is finetuned with the same settings and seed, so each run is
 * independent of the others and of their order.
 */
import type { Arch, Model } from '@clafusion/model-format/arch';
import { type LabeledData, checkLabels, inputLayout } from '../engine/nn/data.ts';
import { type TrainingEvent, type TrainingOutcome, finetuneModel, trainingReport } from './finetune.ts';
import type { FusionReport, ReportTraining, ReportTrainingOther } from './report.ts';
import { type TrainingSpec, resolveTrainingSettings } from './training-settings.ts';

export interface FinetuneRequest extends TrainingSpec {
  /** Labelled training data; the fusion's eval set (if any) is evaluated after every epoch. */
  data: LabeledData;
  /** 'fused' (default) or 'all': also the inputs and the depth-aligned models. */
  models?: 'fused' | 'all';
}

/** A training event of one of the models being finetuned. */
export type FusionTrainingEvent = TrainingEvent & {
  /** "fused", "model 2" or "depth-aligned 2". */
  model: string;
};

export interface FinetuneStepContext {
  now: () => number;
  onTraining?: (event: FusionTrainingEvent) => void;
  signal?: AbortSignal;
  /** The fusion seed, used when the request sets none. */
  seed: number;
}

export interface FinetuneStepResult {
  /** The finetuned fused model (the kept checkpoint). */
  fused: Model;
  training: ReportTraining;
  /** With models 'all': each finetuned input and depth-aligned model (1-based `input`). */
  others: { input: number; model: 'input' | 'depth-aligned'; trained: Model }[];
  /** With an eval set: `accuracy.finetuned` of the report. */
  accuracy?: NonNullable<NonNullable<FusionReport['accuracy']>['finetuned']>;
  seconds: number;
}

/** Checks the training data and settings before any fusion work, so a bad request fails at once. */
export function checkFinetuneRequest(request: FinetuneRequest, arch: Arch, seed: number): void {
  const { n } = inputLayout(arch, request.data.x, 'finetune x');
  checkLabels(request.data.y, n, arch.classes, 'finetune y');
  resolveTrainingSettings(arch.family, 'finetune', request, seed);
}

export async function finetuneFusion(
  request: FinetuneRequest,
  outputs: { fused: Model; inputs: readonly Model[]; depthAligned: readonly { input: number; model: Model }[] },
  evaluation: LabeledData | undefined,
  ctx: FinetuneStepContext,
): Promise<FinetuneStepResult> {
  const t0 = ctx.now();
  const tune = (model: Model, label: string): Promise<TrainingOutcome> =>
    finetuneModel(model, request.data, evaluation, request, {
      defaultSeed: ctx.seed,
      signal: ctx.signal,
      onEvent: (e) => ctx.onTraining?.({ ...e, model: label }),
    });

  const fused = await tune(outputs.fused, 'fused');
  const training = trainingReport(fused);
  const others: FinetuneStepResult['others'] = [];
  const reportOthers: ReportTrainingOther[] = [];
  const modelsAcc: number[] = [];
  const alignedAcc: number[] = [];
  if (request.models === 'all') {
    const jobs = [
      ...outputs.inputs.map((model, i) => ({ input: i + 1, kind: 'input' as const, model, label: `model ${i + 1}`, acc: modelsAcc })),
      ...outputs.depthAligned.map((d) => ({ input: d.input + 1, kind: 'depth-aligned' as const, model: d.model, label: `depth-aligned ${d.input + 1}`, acc: alignedAcc })),
    ];
    for (const job of jobs) {
      const outcome = await tune(job.model, job.label);
      others.push({ input: job.input, model: job.kind, trained: outcome.model });
      const { kind: _kind, settings: _settings, keptInitial: _kept, ...rest } = trainingReport(outcome);
      reportOthers.push({ input: job.input, model: job.kind, ...rest });
      if (outcome.reported !== undefined) job.acc.push(outcome.reported);
    }
    training.others = reportOthers;
  }

  const result: FinetuneStepResult = { fused: fused.model, training, others, seconds: Math.round(((ctx.now() - t0) / 1000) * 1e6) / 1e6 };
  if (evaluation !== undefined && fused.reported !== undefined) {
    result.accuracy = { fused: fused.reported };
    if (request.models === 'all') {
      result.accuracy.models = modelsAcc;
      result.accuracy.depthAligned = alignedAcc;
    }
  }
  return result;
}
