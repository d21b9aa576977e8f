/** Per-model fusion weights: validated and normalised to sum to 1. */
import { weightsProblem } from '@clafusion/contract/options';
import { FusionError } from '@clafusion/model-format/errors';

export function normalizeWeights(weights: readonly number[] | null, count: number): number[] {
  if (weights === null) return Array.from({ length: count }, () => 1 / count);
  const problem = weightsProblem(weights, count);
  if (problem) throw new FusionError('INVALID_ARGUMENT', problem.say('weights'), { field: 'weights' });
  weights.forEach((w, i) => {
    if (!Number.isFinite(w) || w < 0) {
      throw new FusionError('INVALID_ARGUMENT', `weight ${i + 1} must be a finite number ≥ 0, got ${w}`, { field: 'weights' });
    }
  });
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) throw new FusionError('INVALID_ARGUMENT', 'the fusion weights sum to 0', { field: 'weights' });
  return weights.map((w) => w / total);
}
