import { describe, expect, it } from 'vitest';
import { FusionError } from '@clafusion/model-format/errors';
import { Rng } from '../rng.ts';
import { solveAssignment, uniformPlanViaAssignment } from './assignment.ts';
import { bruteForceUniformSquare, marginalError, randomMatrix, uniform } from '../../../test/support/ot-references.ts';

describe('solveAssignment', () => {
  it('matches brute force over permutations for n ≤ 7', () => {
    const rng = new Rng(21);
    for (let n = 1; n <= 7; n++) {
      for (let t = 0; t < 6; t++) {
        const C = randomMatrix(rng, n, n).map((x) => (t % 2 ? Math.round(x * 4) : x));
        const r = solveAssignment(C, n);
        expect([...r.rowToCol].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(r.cost).toBeCloseTo(bruteForceUniformSquare(C, n) * n, 12);
      }
    }
  });

  it('handles negative costs and the identity optimum', () => {
    const n = 5;
    const C = new Float64Array(n * n).fill(3);
    for (let i = 0; i < n; i++) C[i * n + i] = -1;
    const r = solveAssignment(C, n);
    expect(Array.from(r.rowToCol)).toEqual([0, 1, 2, 3, 4]);
    expect(r.cost).toBe(-5);
  });

  it('rejects bad input', () => {
    expect(() => solveAssignment(new Float64Array(3), 2)).toThrow(FusionError);
    expect(() => solveAssignment(new Float64Array([NaN]), 1)).toThrow(FusionError);
  });
});

describe('uniformPlanViaAssignment', () => {
  it('gives the whole-neuron plan of §7.8 and satisfies the marginals', () => {
    const M = new Float64Array([0.5, 10.5, 0.5, 9.5, 9.5, 0.5, 10.5, 0.5]);
    const r = uniformPlanViaAssignment(4, 2, M);
    expect(Array.from(r.plan)).toEqual([0.25, 0, 0.25, 0, 0, 0.25, 0, 0.25]);
    const rng = new Rng(22);
    const M2 = randomMatrix(rng, 6, 4);
    expect(marginalError(uniformPlanViaAssignment(6, 4, M2).plan, uniform(6), uniform(4))).toBeLessThan(1e-12);
  });
});
