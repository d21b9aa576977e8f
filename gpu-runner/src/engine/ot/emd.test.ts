/**
 * emd against independent references: brute force over permutations, enumeration of LP
 * vertices, the assignment solver and the replicate-to-lcm construction; plus degenerate
 * inputs, the iteration cap and input validation.
 */
import { describe, expect, it } from 'vitest';
import { FusionError } from '@clafusion/model-format/errors';
import { Rng } from '../rng.ts';
import { solveAssignment, uniformPlanViaAssignment } from './assignment.ts';
import { emd, emd2 } from './emd.ts';
import { NetworkSimplexSimple } from './network-simplex.ts';
import {
  bruteForceUniformSquare,
  lpOptimumByVertices,
  marginalError,
  randomMarginal,
  randomMatrix,
  uniform,
} from '../../../test/support/ot-references.ts';

function expectCode(fn: () => unknown, code: string, argument?: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FusionError);
    expect((e as FusionError).code).toBe(code);
    if (argument !== undefined) expect((e as FusionError).details.argument).toBe(argument);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('emd: worked example (algorithm.md §7.8)', () => {
  it('sends neurons {0,1} to 0 and {2,3} to 1', () => {
    const M = new Float64Array([0.5, 10.5, 0.5, 9.5, 9.5, 0.5, 10.5, 0.5]);
    const r = emd(uniform(4), uniform(2), M);
    expect(Array.from(r.plan)).toEqual([0.25, 0, 0.25, 0, 0, 0.25, 0, 0.25]);
    expect(r.cost).toBe(0.5);
    expect(emd2(uniform(4), uniform(2), M)).toBe(0.5);
  });
});

describe('emd: optimality against independent references', () => {
  it('matches brute force over permutations on uniform n×n, n ≤ 6', () => {
    const rng = new Rng(11);
    for (let n = 1; n <= 6; n++) {
      for (let t = 0; t < 8; t++) {
        const M = randomMatrix(rng, n, n);
        const r = emd(uniform(n), uniform(n), M);
        expect(marginalError(r.plan, uniform(n), uniform(n))).toBeLessThan(1e-12);
        expect(r.cost).toBeCloseTo(bruteForceUniformSquare(M, n), 12);
      }
    }
  });

  it('matches LP vertex enumeration on general marginals (n·m ≤ 12)', () => {
    const rng = new Rng(12);
    for (const [n, m] of [[2, 2], [2, 3], [3, 2], [3, 3], [2, 5], [4, 3], [3, 4]] as const) {
      for (let t = 0; t < 4; t++) {
        const a = randomMarginal(rng, n);
        const b = randomMarginal(rng, m);
        // Half the trials use coarse costs so that several vertices tie.
        const M = randomMatrix(rng, n, m).map((x) => (t % 2 === 0 ? x : Math.round(x * 3)));
        const r = emd(a, b, M);
        expect(marginalError(r.plan, a, b)).toBeLessThan(1e-12);
        expect(r.cost).toBeCloseTo(lpOptimumByVertices(a, b, M), 12);
      }
    }
  });

  it('equals the assignment optimum on random square uniform problems up to 60×60', () => {
    const rng = new Rng(13);
    for (const n of [7, 16, 33, 60]) {
      const M = randomMatrix(rng, n, n);
      const r = emd(uniform(n), uniform(n), M);
      expect(marginalError(r.plan, uniform(n), uniform(n))).toBeLessThan(1e-12);
      expect(r.cost).toBeCloseTo(solveAssignment(M, n).cost / n, 12);
    }
  });

  it('equals the replicate-to-lcm assignment on rectangular uniform problems', () => {
    const rng = new Rng(14);
    for (const [n0, n1] of [[8, 4], [6, 4], [4, 6], [9, 6], [12, 8], [5, 3]] as const) {
      const M = randomMatrix(rng, n0, n1);
      const r = emd(uniform(n0), uniform(n1), M);
      const ref = uniformPlanViaAssignment(n0, n1, M);
      expect(marginalError(r.plan, uniform(n0), uniform(n1))).toBeLessThan(1e-12);
      expect(marginalError(ref.plan, uniform(n0), uniform(n1))).toBeLessThan(1e-12);
      expect(r.cost).toBeCloseTo(ref.cost, 12);
    }
  });

  it('solves 128×128 with marginals to 1e-12', () => {
    const rng = new Rng(15);
    const M = randomMatrix(rng, 128, 128);
    const r = emd(uniform(128), uniform(128), M);
    expect(marginalError(r.plan, uniform(128), uniform(128))).toBeLessThan(1e-12);
    expect(r.cost).toBeCloseTo(solveAssignment(M, 128).cost / 128, 11);
  });
});

describe('emd: degenerate problems', () => {
  const cases: [string, number, number, (i: number, j: number) => number][] = [
    ['constant matrix', 6, 4, () => 1],
    ['constant rows', 8, 8, (i) => 0.1 * (i + 1)],
    ['identical columns', 6, 6, (i, j) => Math.abs(i - (j % 2))],
    ['zero matrix', 5, 5, () => 0],
  ];
  it.each(cases)('%s: valid, optimal, deterministic', (_name, n, m, f) => {
    const M = new Float64Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) M[i * m + j] = f(i, j);
    const r1 = emd(uniform(n), uniform(m), M);
    const r2 = emd(uniform(n), uniform(m), Float64Array.from(M));
    expect(r2.plan).toEqual(r1.plan);
    expect(marginalError(r1.plan, uniform(n), uniform(m))).toBeLessThan(1e-12);
    expect(r1.cost).toBeCloseTo(uniformPlanViaAssignment(n, m, M).cost, 12);
  });

  it('zero-mass rows and columns get no flow and the rest stays optimal', () => {
    const rng = new Rng(16);
    const a = new Float64Array([0.25, 0, 0.5, 0.25, 0]);
    const b = new Float64Array([0, 0.5, 0.5, 0]);
    const M = randomMatrix(rng, 5, 4);
    const r = emd(a, b, M);
    expect(marginalError(r.plan, a, b)).toBeLessThan(1e-12);
    for (let j = 0; j < 4; j++) expect(r.plan[1 * 4 + j]).toBe(0);
    for (let i = 0; i < 5; i++) expect(r.plan[i * 4 + 3]).toBe(0);
    expect(r.cost).toBeCloseTo(lpOptimumByVertices(new Float64Array([0.25, 0.5, 0.25]), new Float64Array([0.5, 0.5]),
      new Float64Array([M[1], M[2], M[9], M[10], M[13], M[14]])), 12);
  });
});

describe('network simplex internals', () => {
  it('getArcID matches the arc order reset() stores (arc mixing)', () => {
    for (const [n1, n2] of [[1, 1], [3, 4], [10, 10], [17, 9], [32, 33]] as const) {
      const net = new NetworkSimplexSimple(n1, n2, 100);
      const seen = new Set<number>();
      for (let a = 0; a < n1 * n2; a++) {
        const e = net.getArcID(a);
        seen.add(e);
        // _node_id(n) = nodeNum - n - 1 for source a / n2 and target a % n2 + n1.
        expect(net.internalArc(e)).toEqual([n1 + n2 - 1 - Math.trunc(a / n2), n1 + n2 - 1 - ((a % n2) + n1)]);
      }
      expect(seen.size).toBe(n1 * n2);
    }
  });
});

describe('emd: iteration cap and validation', () => {
  it('throws SOLVER_FAILED when maxIter is exhausted', () => {
    const rng = new Rng(17);
    expectCode(() => emd(uniform(40), uniform(40), randomMatrix(rng, 40, 40), { maxIter: 3 }), 'SOLVER_FAILED');
  });

  it('rejects invalid inputs with INVALID_ARGUMENT naming the argument', () => {
    const M = new Float64Array(4).fill(1);
    const u2 = uniform(2);
    expectCode(() => emd(new Float64Array(0), u2, M), 'INVALID_ARGUMENT', 'a');
    expectCode(() => emd(u2, new Float64Array(0), M), 'INVALID_ARGUMENT', 'b');
    expectCode(() => emd(uniform(3), u2, M), 'INVALID_ARGUMENT', 'M');
    expectCode(() => emd(new Float64Array([1.5, -0.5]), u2, M), 'INVALID_ARGUMENT', 'a');
    expectCode(() => emd(u2, new Float64Array([NaN, 1]), M), 'INVALID_ARGUMENT', 'b');
    expectCode(() => emd(new Float64Array([0, 0]), u2, M), 'INVALID_ARGUMENT', 'a');
    expectCode(() => emd(u2, new Float64Array([0.5, 0.6]), M), 'INVALID_ARGUMENT', 'b');
    expectCode(() => emd(u2, u2, new Float64Array([1, -1, 1, 1])), 'INVALID_ARGUMENT', 'M');
    expectCode(() => emd(u2, u2, new Float64Array([1, Infinity, 1, 1])), 'INVALID_ARGUMENT', 'M');
    expectCode(() => emd(u2, u2, M, { maxIter: 0 }), 'INVALID_ARGUMENT', 'maxIter');
    expectCode(() => emd(u2, u2, M, { maxIter: 2.5 }), 'INVALID_ARGUMENT', 'maxIter');
  });

  it('accepts a mass mismatch below POT’s assert_almost_equal tolerance (1.5e-7) and rescales b', () => {
    const b = new Float64Array([0.5, 0.5 + 1e-8]);
    const r = emd(uniform(2), b, new Float64Array([0, 1, 1, 0]));
    expect(marginalError(r.plan, uniform(2), uniform(2))).toBeLessThan(1e-8);
  });
});
