/**
 * Test support: permute the channels of a VGG or ResNet without changing
 * its function, the CNN counterpart of permuting an MLP's hidden neurons.
 * A ResNet's channels along a residual stream (stem, every block output of a
 * stage, the stage's shortcut conv) must share one permutation, since the
 * identity shortcuts add them position by position; conv1 outputs are free.
 */
import { type Model, type Params, layerSpecs, makeModel } from '@clafusion/model-format/arch';
import { Rng } from '../../src/engine/rng.ts';

export function permuteChannels(model: Model, seed: number): Model {
  const rng = new Rng(seed);
  const specs = layerSpecs(model.arch);
  const identity = (n: number) => Int32Array.from({ length: n }, (_, k) => k);
  const outPerm: Int32Array[] = [];
  const inPerm: Int32Array[] = [];
  if (model.arch.family === 'resnet') {
    let stream = rng.permutation(specs[0].shape[0]);
    outPerm[0] = stream;
    inPerm[0] = identity(specs[0].shape[1]);
    for (let l = 1; l < specs.length; l++) {
      const s = specs[l];
      if (s.role === 'conv1') {
        const hasShortcut = specs[l + 2]?.role === 'shortcut' && specs[l + 2].block === s.block && specs[l + 2].stage === s.stage;
        const next = hasShortcut ? rng.permutation(s.shape[0]) : stream;
        const q = rng.permutation(s.shape[0]);
        [inPerm[l], outPerm[l]] = [stream, q];
        [inPerm[l + 1], outPerm[l + 1]] = [q, next];
        if (hasShortcut) [inPerm[l + 2], outPerm[l + 2]] = [stream, next];
        stream = next;
        l += hasShortcut ? 2 : 1;
      } else {
        [inPerm[l], outPerm[l]] = [stream, identity(s.shape[0])]; // the classifier
      }
    }
  } else {
    specs.forEach((s, l) => {
      inPerm[l] = l === 0 ? identity(s.shape[1]) : outPerm[l - 1];
      outPerm[l] = l === specs.length - 1 ? identity(s.shape[0]) : rng.permutation(s.shape[0]);
    });
  }
  const params: Params = new Map();
  specs.forEach((s, l) => {
    const W = model.params.get(s.weight)!;
    const o = s.shape[0];
    // Positions per (out, in) pair: kh·kw for convs; for a classifier on a flattened map, its spatial positions.
    const inChannels = inPerm[l].length;
    const per = W.data.length / (o * inChannels);
    const out = new Float32Array(W.data.length);
    for (let r = 0; r < o; r++)
      for (let c = 0; c < inChannels; c++)
        for (let p = 0; p < per; p++) out[(r * inChannels + c) * per + p] = W.data[(outPerm[l][r] * inChannels + inPerm[l][c]) * per + p];
    params.set(s.weight, { shape: [...W.shape], data: out });
    const vectors = [s.bias, ...(s.bn ? ['weight', 'bias', 'running_mean', 'running_var'].map((x) => `${s.bn}.${x}`) : [])];
    for (const name of vectors) {
      if (!name) continue;
      const v = model.params.get(name)!;
      params.set(name, { shape: [o], data: Float32Array.from(outPerm[l], (k) => v.data[k]) });
    }
  });
  return makeModel(model.arch, params);
}
