/**
 * After fusion, for models with BatchNorm and on request: re-estimate the
 * fused model's BatchNorm running statistics on the calibration samples,
 * then REPAIR (engine/fusion/bn-statistics.ts, repair.ts). Each step keeps
 * the model it started from, so the report can give the fused accuracy
 * before and after every step.
 */
import type { Model } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import type { FusionOptions } from '../engine/fusion/options.ts';
import type { LayerFusionResult } from '../engine/fusion/otfusion.ts';
import { hasBatchNorm, reestimateBatchNorm } from '../engine/fusion/bn-statistics.ts';
import { repairFused } from '../engine/fusion/repair.ts';
import { accuracy } from '../engine/nn/evaluate.ts';
import type { LabeledData } from '../engine/nn/data.ts';

export type NormalizationStep = 'bn-reestimate' | 'repair';

export interface Renormalization {
  model: Model;
  /** Steps applied, in order (report.fusion.normalization). */
  steps: NormalizationStep[];
  /** report.accuracy fields: the fused model before each applied step. */
  earlierAccuracies(data: LabeledData): { fusedBeforeBnReestimate?: number; fusedBeforeRepair?: number };
}

/** The balanced pair of a two-model fusion, with its per-layer maps; null for K models. */
export type BalancedPair = { n0: Model; n1: Model; results: LayerFusionResult[]; weightN1: number } | null;

export function renormalize(
  fused: Model,
  pair: BalancedPair,
  calibration: Tensor32,
  options: FusionOptions,
  timer: { start(stage: 'normalization'): void; end(stage: 'normalization'): void },
): Renormalization {
  const steps: NormalizationStep[] = [];
  const before = new Map<NormalizationStep, Model>();
  let model = fused;
  const bn = options.bnReestimate && hasBatchNorm(fused.arch);
  if (bn || options.repair) timer.start('normalization');
  if (bn) {
    before.set('bn-reestimate', model);
    model = reestimateBatchNorm(model, calibration);
    steps.push('bn-reestimate');
  }
  if (options.repair) {
    if (pair === null) {
      throw new FusionError('INVALID_ARGUMENT', 'repair interpolates the statistics of two parents; it needs exactly two models', { field: 'repair' });
    }
    before.set('repair', model);
    model = repairFused({
      fused: model,
      n0: pair.n0,
      n1: pair.n1,
      // Plain averaging has no maps: identity (repair.ts).
      transports: pair.results.map((r) => r.transport),
      weightN1: pair.weightN1,
      x: calibration,
    });
    steps.push('repair');
  }
  if (bn || options.repair) timer.end('normalization');
  return {
    model,
    steps,
    earlierAccuracies(data) {
      const out: { fusedBeforeBnReestimate?: number; fusedBeforeRepair?: number } = {};
      const raw = before.get('bn-reestimate');
      if (raw) out.fusedBeforeBnReestimate = accuracy(raw, data);
      const unrepaired = before.get('repair');
      if (unrepaired) out.fusedBeforeRepair = accuracy(unrepaired, data);
      return out;
    },
  };
}
