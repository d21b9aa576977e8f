/**
 * Bit-level parity with POT: plans, costs, iteration counts and result codes produced by POT
 * 0.8's own C++ EMD_wrap (compiled from source, see fixtures/gen-pot-golden.py), including
 * degenerate problems where many plans are optimal.
 */
import { describe, expect, it } from 'vitest';
import { isFusionError } from '@clafusion/model-format/errors';
import { emd, emdWrap } from './emd.ts';
import { ProblemType } from './network-simplex.ts';
import { numpySum } from './numpy-sum.ts';
import { f64, fromHex, loadGolden } from '../../../test/support/ot-references.ts';

const golden = loadGolden();

function expectedPlan(c: (typeof golden.cases)[number]): Float64Array {
  const plan = new Float64Array(c.n * c.m);
  for (const [k, v] of c.plan) plan[k] = fromHex(v);
  return plan;
}

describe('POT golden plans (EMD_wrap, bit for bit)', () => {
  it.each(golden.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = emdWrap(c.n, c.m, f64(c.a), f64(c.bScaled), f64(c.M), c.maxIter);
    expect(r.result).toBe(c.result);
    expect(r.iterations).toBe(c.iterations);
    expect(Object.is(r.cost, fromHex(c.cost))).toBe(true);
    // toEqual on typed arrays compares every element exactly.
    expect(r.plan).toEqual(expectedPlan(c));
  });
});

describe('ot.emd wrapper parity', () => {
  it('numpySum reproduces np.sum (pairwise summation) bit for bit', () => {
    for (const s of golden.sums) expect(numpySum(f64(s.x))).toBe(fromHex(s.sum));
    for (const c of golden.cases) {
      expect(numpySum(f64(c.a))).toBe(fromHex(c.sumA));
      expect(numpySum(f64(c.b))).toBe(fromHex(c.sumB));
    }
  });

  it('emd(a, b, M) applies b*a.sum()/b.sum() and returns POT plans from the unscaled inputs', () => {
    for (const c of golden.cases) {
      if (c.result !== ProblemType.OPTIMAL) continue;
      const r = emd(f64(c.a), f64(c.b), f64(c.M), { maxIter: c.maxIter });
      expect(r.plan, c.name).toEqual(expectedPlan(c));
      expect(Object.is(r.cost, fromHex(c.cost)), c.name).toBe(true);
    }
  });

  it('a POT run that hits numItermax throws SOLVER_FAILED', () => {
    const c = golden.cases.find((x) => x.result === ProblemType.MAX_ITER_REACHED);
    expect(c).toBeDefined();
    try {
      emd(f64(c!.a), f64(c!.b), f64(c!.M), { maxIter: c!.maxIter });
      expect.unreachable();
    } catch (e) {
      expect(isFusionError(e) && e.code).toBe('SOLVER_FAILED');
      expect(isFusionError(e) && e.details.result).toBe('MAX_ITER_REACHED');
    }
  });
});
