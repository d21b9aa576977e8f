/** Test support: permuting an MLP's hidden neurons gives the same function in another basis. */
import { type Model, type Params, layerCount, makeModel, mlpBiasName, mlpWeightName } from '@clafusion/model-format/arch';
import { Rng } from '../../src/engine/rng.ts';

export function permuteHidden(model: Model, seed: number): Model {
  const rng = new Rng(seed);
  const params: Params = new Map();
  const L = layerCount(model.arch);
  let prevPerm: Int32Array | null = null;
  for (let l = 0; l < L; l++) {
    const W = model.params.get(mlpWeightName(l))!;
    const b = model.params.get(mlpBiasName(l));
    const [o, i] = W.shape;
    const perm = l < L - 1 ? rng.permutation(o) : Int32Array.from({ length: o }, (_, k) => k);
    const out = new Float32Array(o * i);
    for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) out[r * i + c] = W.data[perm[r] * i + (prevPerm ? prevPerm[c] : c)];
    params.set(mlpWeightName(l), { shape: [o, i], data: out });
    if (b) params.set(mlpBiasName(l), { shape: [o], data: Float32Array.from(perm, (p) => b.data[p]) });
    prevPerm = perm;
  }
  return makeModel(model.arch, params);
}
