/**
 * The distillation step of a fusion run (docs/algorithm.md §10.2): the fused
 * model is the student, the input models the teachers. By default every
 * input teaches (their mean logit is the target, as `clafusion distill` does
 * with several --teacher files); `teachers: 'deeper'` keeps only the deepest
 * input, the paper's teacher when a deep model is fused with a shallower one.
 *
 * Like finetuning, the kept checkpoint is the one §10.2 reports when an eval
 * set is given (the best of the student before distillation and after every
 * epoch); the report's `training.kind` is 'distill'.
 */
import { type Arch, type Model, layerCount } from '@clafusion/model-format/arch';
import { type LabeledData, checkLabels, inputLayout } from '../engine/nn/data.ts';
import { distillModel, trainingReport } from './finetune.ts';
import type { FinetuneStepContext, FinetuneStepResult } from './finetune-fusion.ts';
import { type DistillSpec, resolveTrainingSettings } from './training-settings.ts';

export const DISTILL_TEACHERS = ['inputs', 'deeper'] as const;
export type DistillTeachers = (typeof DISTILL_TEACHERS)[number];

export interface DistillRequest extends DistillSpec {
  /** Labelled training data; the fusion's eval set (if any) is evaluated before and after every epoch. */
  data: LabeledData;
  /** 'inputs' (default): every input model, mean logit; 'deeper': only the deepest input (the first of equal depth). */
  teachers?: DistillTeachers;
}

/** Checks the training data and settings before any fusion work, so a bad request fails at once. */
export function checkDistillRequest(request: DistillRequest, arch: Arch, seed: number): void {
  const { n } = inputLayout(arch, request.data.x, 'distill x');
  checkLabels(request.data.y, n, arch.classes, 'distill y');
  resolveTrainingSettings(arch.family, 'distill', request, seed);
}

/** The teacher models of `which` among the fusion's inputs. */
export function distillTeachers(inputs: readonly Model[], which: DistillTeachers = 'inputs'): Model[] {
  if (which === 'inputs') return [...inputs];
  let deepest = 0;
  inputs.forEach((m, i) => {
    if (layerCount(m.arch) > layerCount(inputs[deepest].arch)) deepest = i;
  });
  return [inputs[deepest]];
}

/** Distils the teachers into the fused model; the result has the shape of finetuneFusion's (no `others`). */
export async function distillFusion(
  request: DistillRequest,
  outputs: { fused: Model; inputs: readonly Model[] },
  evaluation: LabeledData | undefined,
  ctx: FinetuneStepContext,
): Promise<FinetuneStepResult> {
  const t0 = ctx.now();
  const outcome = await distillModel(outputs.fused, distillTeachers(outputs.inputs, request.teachers), request.data, evaluation, request, {
    defaultSeed: ctx.seed,
    signal: ctx.signal,
    onEvent: (e) => ctx.onTraining?.({ ...e, model: 'fused' }),
  });
  const result: FinetuneStepResult = {
    fused: outcome.model,
    training: trainingReport(outcome),
    others: [],
    seconds: Math.round(((ctx.now() - t0) / 1000) * 1e6) / 1e6,
  };
  if (evaluation !== undefined && outcome.reported !== undefined) result.accuracy = { fused: outcome.reported };
  return result;
}
