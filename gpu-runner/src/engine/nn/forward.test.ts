import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../runtime/backend.ts';
import { type MlpArch, type Model, layerWidths, paramSpecs } from '@clafusion/model-format/arch';
import { isFusionError } from '@clafusion/model-format/errors';
import { Rng } from '../rng.ts';
import { type Tensor32, numel } from '@clafusion/model-format/tensor';
import { forward, modelOutput } from './forward.ts';
import { initModel } from './init.ts';

/**
 * Independent float64 reference: plain loops, [out, in] weights, no tfjs.
 * Returns the pre-ReLU value of every layer (the last is the logits).
 */
function referenceTaps(model: Model, x: Tensor32): Float64Array[] {
  const arch = model.arch;
  const n = x.shape[0];
  const specs = paramSpecs(arch);
  let h = Float64Array.from(x.data);
  let width = numel(arch.input);
  const taps: Float64Array[] = [];
  layerWidths(arch).forEach((out, layer) => {
    const w = model.params.get(specs.find((s) => s.layer === layer && s.role === 'weight')!.name)!.data;
    const biasSpec = specs.find((s) => s.layer === layer && s.role === 'bias');
    const b = biasSpec === undefined ? undefined : model.params.get(biasSpec.name)!.data;
    const z = new Float64Array(n * out);
    for (let s = 0; s < n; s++) {
      for (let o = 0; o < out; o++) {
        let acc = b === undefined ? 0 : b[o];
        for (let i = 0; i < width; i++) acc += w[o * width + i] * h[s * width + i];
        z[s * out + o] = acc;
      }
    }
    taps.push(z);
    h = z.map((v) => Math.max(v, 0));
    width = out;
  });
  return taps;
}

function randomInput(rng: Rng, shape: number[]): Tensor32 {
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { shape, data };
}

/** max |a − ref| relative to max |ref|: the scale-free error of a whole tensor. */
function relError(a: Float32Array, ref: Float64Array): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - ref[i]));
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  return maxDiff / maxRef;
}

describe.each(['wasm', 'cpu'] as const)('forward on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: backend } });
  });

  for (const bias of [false, true]) {
    it(`matches the float64 reference (bias ${bias}), in ragged batches`, () => {
      const arch: MlpArch = { family: 'mlp', input: [2, 3, 4], hidden: [16, 9, 7], classes: 5, bias };
      const model = initModel(arch, 11);
      const x = randomInput(new Rng(12), [37, 2, 3, 4]);
      const ref = referenceTaps(model, x);

      const result = forward(model, x, { taps: true, batchSize: 10 });
      expect(result.classes).toBe(5);
      expect(result.tapWidths).toEqual([16, 9, 7, 5]);
      expect(result.taps).toHaveLength(4);
      result.taps!.forEach((tap, k) => {
        expect(tap.length).toBe(37 * result.tapWidths![k]);
        expect(relError(tap, ref[k])).toBeLessThan(1e-5);
      });
      expect(relError(result.logits, ref[3])).toBeLessThan(1e-5);
      // The last tap is the logits themselves.
      expect(result.taps![3]).toEqual(result.logits);

      // Some pre-activations are negative, so 'pre' really is before the ReLU.
      expect(result.taps![0].some((v) => v < 0)).toBe(true);
      const post = forward(model, x, { taps: true, activations: 'post', batchSize: 8 });
      post.taps!.forEach((tap, k) => {
        const expected = k < 3 ? ref[k].map((v) => Math.max(v, 0)) : ref[k];
        expect(relError(tap, expected)).toBeLessThan(1e-5);
      });
      expect(post.logits).toEqual(result.logits);
    });
  }

  it('matches the reference on the paper-sized MLP [784,400,200,100,50,25,10] and leaks no tensors', () => {
    const arch: MlpArch = { family: 'mlp', input: [1, 28, 28], hidden: [400, 200, 100, 50, 25], classes: 10, bias: false };
    const model = initModel(arch, 3);
    const x = randomInput(new Rng(4), [200, 1, 28, 28]);
    const before = tf.memory().numTensors;
    const result = forward(model, x, { taps: true });
    expect(tf.memory().numTensors).toBe(before);
    const ref = referenceTaps(model, x);
    result.taps!.forEach((tap, k) => expect(relError(tap, ref[k])).toBeLessThan(1e-5));
  });

  it('returns log-softmax as the MLP output', () => {
    const arch: MlpArch = { family: 'mlp', input: [6], hidden: [4], classes: 3, bias: true };
    const model = initModel(arch, 5);
    const x = randomInput(new Rng(6), [9, 6]);
    const before = tf.memory().numTensors;
    const out = modelOutput(model, x, { batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    const logits = referenceTaps(model, x)[1];
    for (let s = 0; s < 9; s++) {
      const row = logits.subarray(s * 3, s * 3 + 3);
      const lse = Math.log(row.reduce((acc, v) => acc + Math.exp(v), 0));
      for (let c = 0; c < 3; c++) expect(out[s * 3 + c]).toBeCloseTo(row[c] - lse, 5);
    }
  });

  it('accepts any per-sample shape with the right size, and names the tensor when it is wrong', () => {
    const arch: MlpArch = { family: 'mlp', input: [1, 2, 2], hidden: [3], classes: 2, bias: false };
    const model = initModel(arch, 1);
    const flat = forward(model, { shape: [2, 4], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]) });
    const nchw = forward(model, { shape: [2, 1, 2, 2], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]) });
    expect(flat.logits).toEqual(nchw.logits);
    expect(flat.taps).toBeUndefined();

    const bad = [
      () => forward(model, { shape: [2, 5], data: new Float32Array(10) }),
      () => forward(model, { shape: [4], data: new Float32Array(4) }),
      () => forward(model, { shape: [0, 4], data: new Float32Array(0) }),
      () => forward(model, { shape: [1, 4], data: new Float32Array(4) }, { batchSize: 0 }),
    ];
    const codes = bad.map((f) => {
      try {
        f();
        return 'no error';
      } catch (e) {
        return isFusionError(e) ? e.code : String(e);
      }
    });
    expect(codes).toEqual(['SHAPE_MISMATCH', 'SHAPE_MISMATCH', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT']);

    const broken: Model = { arch, params: new Map(model.params) };
    broken.params.delete('fc2.weight');
    expect(() => forward(broken, { shape: [1, 4], data: new Float32Array(4) })).toThrow(/fc2\.weight is missing/);
  });
});
