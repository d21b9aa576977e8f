/**
 * Test support: an independent float64 MLP forward pass in plain loops, and
 * small random models. Used as the "independent check" for balancing and
 * fusion properties (function preservation, permutation recovery).
 */
import { type MlpArch, type Model, type Params, layerCount, makeModel, mlpBiasName, mlpWeightName, paramSpecs } from '@clafusion/model-format/arch';
import { Rng } from '../../src/engine/rng.ts';

export interface ReferenceForward {
  /** Pre-activations per weight tensor, [N, width] row-major; the last is the logits. */
  pre: Float64Array[];
  logits: Float64Array;
}

export function referenceForward(model: Model, x: ArrayLike<number>, N: number): ReferenceForward {
  const pre: Float64Array[] = [];
  let h = Float64Array.from(x);
  const L = layerCount(model.arch);
  for (let l = 0; l < L; l++) {
    const W = model.params.get(mlpWeightName(l))!;
    const b = model.params.get(mlpBiasName(l));
    const [o, i] = W.shape;
    const z = new Float64Array(N * o);
    for (let s = 0; s < N; s++) {
      for (let r = 0; r < o; r++) {
        let acc = b ? b.data[r] : 0;
        for (let c = 0; c < i; c++) acc += W.data[r * i + c] * h[s * i + c];
        z[s * o + r] = acc;
      }
    }
    pre.push(z);
    h = l < L - 1 ? z.map((v) => Math.max(0, v)) : z;
  }
  return { pre, logits: pre[L - 1] };
}

export function randomMlp(arch: MlpArch, seed: number, scale = 1): Model {
  const rng = new Rng(seed);
  const params: Params = new Map();
  for (const spec of paramSpecs(arch)) {
    const fanIn = spec.role === 'weight' ? spec.shape[1] : arch.input.reduce((a, b) => a * b, 1);
    const bound = scale / Math.sqrt(fanIn);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rng.uniform(-bound, bound);
    params.set(spec.name, { shape: spec.shape, data });
  }
  return makeModel(arch, params);
}

export function randomInputs(N: number, D: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(N * D);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return x;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function argmaxRows(logits: ArrayLike<number>, N: number, C: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < N; s++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[s * C + c] > logits[s * C + best]) best = c;
    out.push(best);
  }
  return out;
}
