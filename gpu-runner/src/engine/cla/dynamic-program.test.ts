import { describe, expect, it } from 'vitest';
import { mat64 } from '@clafusion/model-format/tensor';
import { alignLayers, chainMapping, mappingCost, randomMapping, validateMapping } from './dynamic-program.ts';
import { Rng } from '../rng.ts';

function costMatrix(rows: number[][]) {
  return mat64(rows.length, rows[0].length, Float64Array.from(rows.flat()));
}

/** Every strictly increasing map {1..n}→{1..m} that honours the constraints. */
function allMaps(n: number, m: number, s: number, f: number): number[][] {
  const out: number[][] = [];
  const cur: number[] = [];
  const rec = (k: number, from: number) => {
    if (k > n) {
      out.push([...cur]);
      return;
    }
    for (let v = from; v <= m - (n - k); v++) {
      if (k < s && v !== k) continue;
      if (k > n - f && v !== m - (n - k)) continue;
      cur.push(v);
      rec(k + 1, v + 1);
      cur.pop();
    }
  };
  rec(1, 1);
  return out;
}

/**
 * The official tie rule, stated independently: among optimal maps, the one
 * whose entries, read from the last to the first, are smallest.
 */
function bruteForce(C: ReturnType<typeof costMatrix>, s: number, f: number): number[] {
  const maps = allMaps(C.cols, C.rows, s, f);
  let best = Infinity;
  for (const a of maps) best = Math.min(best, mappingCost(C, a));
  const optimal = maps.filter((a) => mappingCost(C, a) === best);
  optimal.sort((x, y) => {
    for (let k = x.length - 1; k >= 0; k--) if (x[k] !== y[k]) return x[k] - y[k];
    return 0;
  });
  return optimal[0];
}

describe('alignLayers (CLA dynamic program, spec §4)', () => {
  // Paper Figure 2: A = [5,4,3,1], B = [3,2,1], cost = squared width difference.
  const figure2 = costMatrix([
    [4, 9, 16],
    [1, 4, 9],
    [0, 1, 4],
    [4, 1, 0],
  ]);

  it('reproduces the paper Figure 2 mapping [1,3,4] at cost 5', () => {
    const a = alignLayers(figure2, { startLayer: 2, fixedEndLayers: 1 });
    expect(a).toEqual([1, 3, 4]);
    expect(mappingCost(figure2, a)).toBe(5);
  });

  it('gives the spec values for the other constraint settings of Figure 2', () => {
    expect(alignLayers(figure2, { startLayer: 1, fixedEndLayers: 1 })).toEqual([2, 3, 4]);
    expect(alignLayers(figure2, { startLayer: 1, fixedEndLayers: 0 })).toEqual([2, 3, 4]);
    expect(alignLayers(figure2, { startLayer: 2, fixedEndLayers: 0 })).toEqual([1, 3, 4]);
  });

  it('reproduces Table 9 for the MLP ablation pair (neuron cost)', () => {
    const A = [400, 200, 100, 50, 25];
    const B = [400, 200, 100];
    const C = costMatrix(A.map((x) => B.map((y) => (x - y) ** 2)));
    expect(alignLayers(C, { startLayer: 2, fixedEndLayers: 1 })).toEqual([1, 2, 5]);
    expect(alignLayers(C, { startLayer: 1, fixedEndLayers: 1 })).toEqual([1, 2, 5]);
    expect(alignLayers(C, { startLayer: 2, fixedEndLayers: 0 })).toEqual([1, 2, 3]);
    expect(alignLayers(C, { startLayer: 1, fixedEndLayers: 0 })).toEqual([1, 2, 3]);
  });

  it('constrains the first layer inside the DP, unlike Algorithm 1 read literally (§4.6)', () => {
    const C = costMatrix([
      [10, 0, 0],
      [0, 0, 0],
      [0, 5, 0],
      [0, 0, 0],
    ]);
    const a = alignLayers(C);
    expect(a).toEqual([1, 2, 4]);
    expect(mappingCost(C, a)).toBe(10);
  });

  it('returns [1] for a single B layer whatever the costs', () => {
    expect(alignLayers(costMatrix([[9], [0], [0]]), { startLayer: 1, fixedEndLayers: 0 })).toEqual([1]);
  });

  it('returns the identity when both models have the same depth', () => {
    const rng = new Rng(3);
    const rows = Array.from({ length: 5 }, () => Array.from({ length: 5 }, () => rng.uniform()));
    expect(alignLayers(costMatrix(rows))).toEqual([1, 2, 3, 4, 5]);
  });

  it('matches brute force (optimum and tie rule) on random integer costs with ties', () => {
    const rng = new Rng(42);
    let checked = 0;
    for (let trial = 0; trial < 1500; trial++) {
      const n = 2 + Math.floor(rng.uniform() * 4); // 2..5
      const m = n + Math.floor(rng.uniform() * 4); // n..n+3
      const rows = Array.from({ length: m }, () => Array.from({ length: n }, () => Math.floor(rng.uniform() * 4)));
      const C = costMatrix(rows);
      for (const [s, f] of [
        [2, 1],
        [1, 0],
        [1, 1],
        [2, 0],
      ]) {
        if (s - 1 + f > n) continue;
        expect(alignLayers(C, { startLayer: s, fixedEndLayers: f })).toEqual(bruteForce(C, s, f));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5000);
  });

  it('rejects NaN costs, naming the cell', () => {
    const C = costMatrix([
      [0, 1],
      [NaN, 0],
      [1, 1],
    ]);
    expect(() => alignLayers(C)).toThrow(/C\[2\]\[1\] is NaN/);
  });

  it('rejects constraints that fix more layers than exist', () => {
    const C = costMatrix([
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    expect(() => alignLayers(C, { startLayer: 3, fixedEndLayers: 1 })).toThrow(/constraints fix/);
  });
});

describe('baseline and explicit mappings', () => {
  it('chain maps layer k to layer k', () => {
    expect(chainMapping(3, 5)).toEqual([1, 2, 3]);
  });

  it('random mapping starts at 1, is strictly increasing and reproducible from its seed', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    for (let i = 0; i < 50; i++) {
      const x = randomMapping(4, 9, () => a.uniform());
      expect(x[0]).toBe(1);
      for (let k = 1; k < x.length; k++) expect(x[k]).toBeGreaterThan(x[k - 1]);
      expect(x[3]).toBeLessThanOrEqual(9);
      expect(randomMapping(4, 9, () => b.uniform())).toEqual(x);
    }
  });

  it('validates explicit mappings', () => {
    expect(validateMapping([1, 2, 5], 3, 5)).toEqual([1, 2, 5]);
    expect(() => validateMapping([1, 2], 3, 5)).toThrow(/has 2 entries/);
    expect(() => validateMapping([1, 3, 3], 3, 5)).toThrow(/strictly increasing/);
    expect(() => validateMapping([1, 2, 6], 3, 5)).toThrow(/not a layer/);
  });
});
