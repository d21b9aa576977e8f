/**
 * After fusion, for models with BatchNorm and on request: re-estimate the
 * fused model's BatchNorm running statistics on the calibration samples,
 * then REPAIR (engine/fusion/bn-statistics.ts, repair.ts), for two models
 * or K (every model's statistics carried into the anchor's basis). Each
 * step keeps the model it started from, so the report can give the fused
 * accuracy before and after every step.
 */
import type { Model } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import type { FusionOptions } from '../engine/fusion/options.ts';
import type { LayerFusionResult } from '../engine/fusion/otfusion.ts';
import { hasBatchNorm, reestimateBatchNorm } from '../engine/fusion/bn-statistics.ts';
import { type RepairParent, interpolatedTargets, repairToTargets } from '../engine/fusion/repair.ts';
import { accuracy } from '../engine/nn/evaluate.ts';
import type { LabeledData } from '../engine/nn/data.ts';

export type NormalizationStep = 'bn-reestimate' | 'repair';

export interface Renormalization {
  model: Model;
  /** Steps applied, in order (report.fusion.normalization). */
  steps: NormalizationStep[];
  /** The fused model before REPAIR (after any re-estimation), when REPAIR ran. */
  unrepaired?: Model;
  /** report.accuracy fields: the fused model before each applied step. */
  earlierAccuracies(data: LabeledData): { fusedBeforeBnReestimate?: number; fusedBeforeRepair?: number };
}

/** The balanced pair of a two-model fusion, with its per-layer maps. */
export type BalancedPair = { n0: Model; n1: Model; results: LayerFusionResult[]; weightN1: number };

/** REPAIR's parents: the balanced pair's (N0 through its maps, N1 as it is), or for K models each member and the anchor. */
export function repairParents(source: BalancedPair | RepairParent[]): RepairParent[] {
  if (Array.isArray(source)) return source;
  return [
    // Plain averaging has no maps: identity.
    { model: source.n0, transports: source.results.map((r) => r.transport), weight: 1 - source.weightN1 },
    { model: source.n1, transports: [], weight: source.weightN1 },
  ];
}

export function renormalize(
  fused: Model,
  parents: BalancedPair | RepairParent[] | null,
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
    if (parents === null) {
      throw new FusionError('INVALID_ARGUMENT', 'repair interpolates the statistics of the fused models; none were given', { field: 'repair' });
    }
    before.set('repair', model);
    model = repairToTargets(model, interpolatedTargets(repairParents(parents), calibration), calibration);
    steps.push('repair');
  }
  if (bn || options.repair) timer.end('normalization');
  return {
    model,
    steps,
    ...(before.has('repair') ? { unrepaired: before.get('repair') } : {}),
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
