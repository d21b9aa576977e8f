/**
 * `fuse --sweep`: either a list of weights for model 1 (`0,0.25,0.5,0.75,1`)
 * or a single point count for an even grid over [0, 1] (`11` → 0, 0.1, …, 1).
 * A lone number is always a count, so a one-weight "sweep" is not expressible
 * (that is `--weights w,1-w`).
 */
import { evenWeights } from '../pipeline/sweep.ts';
import { type Args, type FlagSpec, UsageError } from './args.ts';

export const SWEEP_FLAG: FlagSpec = {
  kind: 'value',
  placeholder: 'N|w1,w2,…',
  description: "also fuse at each weight w of model 1 (model 2 gets 1−w) and report accuracies; N = an even grid of N weights over [0,1] (needs two models and --eval)",
};

export function sweepWeightsFromArgs(args: Args): number[] | null {
  const raw = args.string('sweep');
  if (raw === undefined) return null;
  const list = args.numberList('sweep')!;
  if (list.length === 1) {
    const count = list[0];
    if (!Number.isInteger(count) || count < 2) {
      throw new UsageError(`--sweep takes a point count (an integer ≥ 2, e.g. 11) or a list of weights like 0,0.5,1; got "${raw}"`);
    }
    return evenWeights(count);
  }
  const bad = list.find((w) => w < 0 || w > 1);
  if (bad !== undefined) throw new UsageError(`--sweep weights are model 1's share and must lie in [0, 1], got ${bad}`);
  return list;
}
