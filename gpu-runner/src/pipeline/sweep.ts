/**
 * The fusion-weight sweep (the paper's skill-transfer experiment, Appendix
 * D.1 and Figure 4): fuse the same two models at each weight w and measure
 * the fused model and the prediction ensemble on the eval set.
 *
 * Convention: w is the weight of input model 1 (the first --model) and model
 * 2 gets 1 − w, whichever of the two is deeper. The paper sweeps w_A over
 * {0, 0.1, …, 1}; pass the model you call A first.
 *
 * Each point is a complete runFusion call with weights (w, 1 − w), so it is
 * exactly the fusion `--weights w,1−w` would produce (same alignment, seed
 * and options); only the accuracies the sweep reports are evaluated. With
 * REPAIR (`--repair on`), `accuracy` is the fused model before it and
 * `repairedAccuracy` after, per weight.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { accuracy, predictionEnsemble } from '../engine/nn/evaluate.ts';
import type { ReportSweep } from './report.ts';
import { type FusionRequest, type RunContext, runFusion } from './run-fusion.ts';

export interface SweepStep {
  /** 0-based position of this weight in the sweep. */
  index: number;
  count: number;
  weight: number;
  accuracy: number;
  ensembleAccuracy: number;
  /** With REPAIR: the repaired fused model's accuracy (`accuracy` is before it). */
  repairedAccuracy?: number;
}

/** `count` weights evenly spaced over [0, 1], free of float noise: 11 → 0, 0.1, …, 1. */
export function evenWeights(count: number): number[] {
  if (!Number.isInteger(count) || count < 2) {
    throw new FusionError('INVALID_ARGUMENT', `an even weight grid needs at least 2 points, got ${count}`, { field: 'sweep' });
  }
  return Array.from({ length: count }, (_, i) => Number((i / (count - 1)).toPrecision(12)));
}

export async function runWeightSweep(
  request: FusionRequest,
  weights: readonly number[],
  ctx: Pick<RunContext, 'backend' | 'now' | 'recordRuntime'>,
  onStep?: (step: SweepStep) => void,
): Promise<ReportSweep> {
  if (request.models.length !== 2) {
    throw new FusionError('INVALID_ARGUMENT', `the weight sweep fuses exactly two models, got ${request.models.length}`, { field: 'sweep' });
  }
  const evaluation = request.evaluation;
  if (!evaluation) throw new FusionError('INVALID_ARGUMENT', 'the weight sweep needs labelled eval data to measure accuracy', { field: 'sweep' });
  if (weights.length === 0) throw new FusionError('INVALID_ARGUMENT', 'the weight sweep needs at least one weight', { field: 'sweep' });
  for (const w of weights) {
    if (!Number.isFinite(w) || w < 0 || w > 1) {
      throw new FusionError('INVALID_ARGUMENT', `sweep weights are model 1's share and must lie in [0, 1], got ${w}`, { field: 'sweep' });
    }
  }

  const inputs = request.models.map((m) => m.model);
  const result: ReportSweep & { ensembleAccuracy: number[] } = { weights: [...weights], accuracy: [], ensembleAccuracy: [] };
  for (const [index, w] of weights.entries()) {
    const pair = [w, 1 - w];
    // No evaluation inside: runFusion would also re-measure both inputs and
    // the depth-aligned model, which do not depend on w.
    const outcome = await runFusion({ ...request, evaluation: undefined, options: { ...request.options, weights: pair } }, { backend: ctx.backend, now: ctx.now, recordRuntime: ctx.recordRuntime });
    const fused = accuracy(outcome.unrepaired ?? outcome.fused, evaluation);
    const repaired = outcome.unrepaired ? accuracy(outcome.fused, evaluation) : undefined;
    const ensemble = predictionEnsemble(inputs, pair, evaluation).accuracy;
    result.accuracy.push(fused);
    result.ensembleAccuracy.push(ensemble);
    if (repaired !== undefined) (result.repairedAccuracy ??= []).push(repaired);
    onStep?.({ index, count: weights.length, weight: w, accuracy: fused, ensembleAccuracy: ensemble, ...(repaired !== undefined ? { repairedAccuracy: repaired } : {}) });
  }
  return result;
}
