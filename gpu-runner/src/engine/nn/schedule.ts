/**
 * Learning-rate schedules, stepped once per epoch as the official finetuning
 * does (docs/algorithm.md §10.1).
 *
 * A schedule maps the number of completed epochs (PyTorch's `last_epoch`
 * after that many `scheduler.step()` calls) and the base rate to the rate
 * used for the next epoch.
 */
import { FusionError } from '@clafusion/model-format/errors';

export type LrSchedule = (completedEpochs: number, baseLr: number) => number;

export const constantLr: LrSchedule = (_completed, baseLr) => baseLr;

/**
 * torch.optim.lr_scheduler.MultiStepLR: the rate is multiplied by `gamma`
 * each time the completed-epoch count reaches a milestone. The product is
 * formed step by step, as PyTorch's chainable form does, so the float64
 * rates match PyTorch's exactly (e.g. 0.1 → 0.05 → 0.025 …).
 */
export function multiStepLr(milestones: readonly number[], gamma: number): LrSchedule {
  for (const m of milestones) {
    if (!Number.isInteger(m) || m < 1) {
      throw new FusionError('INVALID_ARGUMENT', `milestones must be positive integers, got ${m}`, { field: 'milestones' });
    }
  }
  if (!Number.isFinite(gamma) || gamma <= 0) {
    throw new FusionError('INVALID_ARGUMENT', `gamma must be a positive number, got ${gamma}`, { field: 'gamma' });
  }
  // A milestone listed twice decays twice, as PyTorch's Counter of milestones does.
  const sorted = [...milestones].sort((a, b) => a - b);
  return (completed, baseLr) => {
    let lr = baseLr;
    for (const m of sorted) if (m <= completed) lr *= gamma;
    return lr;
  };
}
