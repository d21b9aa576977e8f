import { describe, expect, it } from 'vitest';
import { FusionError } from '@clafusion/model-format/errors';
import { Rng } from '../rng.ts';
import { emd } from './emd.ts';
import { sinkhorn } from './sinkhorn.ts';
import { marginalError, planCost, randomMarginal, randomMatrix, uniform } from '../../../test/support/ot-references.ts';

describe('sinkhorn', () => {
  const rng = new Rng(31);
  const n = 6;
  const m = 5;
  const a = randomMarginal(rng, n);
  const b = randomMarginal(rng, m);
  const M = randomMatrix(rng, n, m);
  const exact = emd(a, b, M).cost;

  it('converges to the exact OT cost as reg → 0, with marginals satisfied', () => {
    const gaps: number[] = [];
    for (const reg of [1e-1, 3e-2, 1e-2, 3e-3, 1e-3]) {
      const r = sinkhorn(a, b, M, reg, { maxIter: 20000 });
      expect(r.plan.every(Number.isFinite)).toBe(true);
      expect(marginalError(r.plan, a, b)).toBeLessThan(1e-8);
      // Marginals hold to ~1e-9, so the cost may undercut the LP optimum only by that much.
      const gap = planCost(r.plan, M) - exact;
      expect(gap).toBeGreaterThan(-1e-8);
      gaps.push(gap);
    }
    expect(gaps[0]).toBeGreaterThan(1e-4); // the entropic bias is visible at reg = 0.1 …
    expect(Math.abs(gaps[gaps.length - 1])).toBeLessThan(1e-6); // … and gone at reg = 1e-3
  });

  it('the plain and log-domain iterations agree where both are stable', () => {
    const p = sinkhorn(a, b, M, 0.05, { method: 'sinkhorn', maxIter: 5000 });
    const l = sinkhorn(a, b, M, 0.05, { method: 'sinkhorn_log', maxIter: 5000 });
    expect(p.method).toBe('sinkhorn');
    expect(l.method).toBe('sinkhorn_log');
    for (let k = 0; k < p.plan.length; k++) expect(l.plan[k]).toBeCloseTo(p.plan[k], 10);
  });

  it('never returns NaN for tiny reg or zero-mass entries (auto picks the log domain)', () => {
    const Mbig = M.map((x) => x * 100);
    const r = sinkhorn(a, b, Mbig, 1e-4);
    expect(r.method).toBe('sinkhorn_log');
    expect(r.plan.every(Number.isFinite)).toBe(true);
    // The last half-step fits the rows exactly; columns converge slowly at reg/max(M) = 1e-6.
    for (let i = 0; i < n; i++) {
      let row = 0;
      for (let j = 0; j < m; j++) row += r.plan[i * m + j];
      expect(row).toBeCloseTo(a[i], 10);
    }

    const a0 = new Float64Array([0.5, 0, 0.5]);
    const z = sinkhorn(a0, uniform(2), new Float64Array([0, 1, 1, 0, 1, 0]), 0.1);
    expect(z.plan.every(Number.isFinite)).toBe(true);
    expect(z.plan[2]).toBe(0);
    expect(z.plan[3]).toBe(0);
  });

  it('plain Sinkhorn rolls back instead of returning NaN when K underflows', () => {
    const r = sinkhorn(a, b, M.map((x) => x * 1000), 1e-3, { method: 'sinkhorn' });
    expect(r.plan.some(Number.isNaN)).toBe(false);
  });

  it('validates its arguments', () => {
    expect(() => sinkhorn(a, b, M, 0)).toThrow(FusionError);
    expect(() => sinkhorn(a, b, M.subarray(1), 0.1)).toThrow(FusionError);
    expect(() => sinkhorn(a, uniform(m).map((x) => 2 * x), M, 0.1)).toThrow(FusionError);
  });
});
