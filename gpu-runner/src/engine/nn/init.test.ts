import { describe, expect, it } from 'vitest';
import { type MlpArch, type ResNetArch, type VggArch, layerSpecs, makeModel, paramSpecs } from '@clafusion/model-format/arch';
import { Rng } from '../rng.ts';
import { defaultInitBound, initModel } from './init.ts';

/** Bitwise equality of two arrays (toEqual is slow on 300k elements). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const arch: MlpArch = { family: 'mlp', input: [784], hidden: [400, 100], classes: 10, bias: true };

describe('initModel (PyTorch Linear default)', () => {
  it('declares exactly the architecture parameters, in canonical order', () => {
    const model = initModel(arch, 0);
    expect([...model.params.keys()]).toEqual([
      'fc1.weight',
      'fc1.bias',
      'fc2.weight',
      'fc2.bias',
      'fc3.weight',
      'fc3.bias',
    ]);
    expect(() => makeModel(arch, model.params)).not.toThrow();
    expect([...initModel({ ...arch, bias: false }, 0).params.keys()]).toEqual(['fc1.weight', 'fc2.weight', 'fc3.weight']);
  });

  it('draws every entry from U(−1/√fan_in, 1/√fan_in), bias included', () => {
    const model = initModel(arch, 1);
    const fanIns: Record<string, number> = { fc1: 784, fc2: 400, fc3: 100 };
    for (const [name, t] of model.params) {
      const fanIn = fanIns[name.split('.')[0]];
      const bound = 1 / Math.sqrt(fanIn);
      expect(defaultInitBound(name.endsWith('weight') ? t.shape : [t.shape[0], fanIn])).toBeCloseTo(bound, 15);
      let maxAbs = 0;
      let sum = 0;
      let sq = 0;
      for (const v of t.data) {
        maxAbs = Math.max(maxAbs, Math.abs(v));
        sum += v;
        sq += v * v;
      }
      // Float32 rounding may land exactly on the bound, never beyond it.
      expect(maxAbs).toBeLessThanOrEqual(Math.fround(bound));
      const n = t.data.length;
      if (n >= 1000) {
        // Uniform on (−b, b): mean 0, variance b²/3, and the range is used.
        expect(Math.abs(sum / n)).toBeLessThan((4 * bound) / Math.sqrt(3 * n));
        expect(sq / n / ((bound * bound) / 3)).toBeCloseTo(1, 1);
        expect(maxAbs).toBeGreaterThan(0.99 * bound);
      }
    }
  });

  it('is deterministic per seed and accepts a generator', () => {
    const a = initModel(arch, 7);
    const b = initModel(arch, 7);
    const c = initModel(arch, 8);
    for (const [name, t] of a.params) {
      expect(sameBits(t.data, b.params.get(name)!.data)).toBe(true);
      expect(sameBits(t.data, c.params.get(name)!.data)).toBe(false);
    }
    expect(initModel(arch, new Rng(7)).params.get('fc3.bias')!.data).toEqual(a.params.get('fc3.bias')!.data);
  });
});

describe('initModel (PyTorch Conv2d and BatchNorm2d defaults)', () => {
  const resnet: ResNetArch = { family: 'resnet', input: [8, 8, 3], blocks: [1, 1], widths: [8, 16], classes: 10, bias: true, batchnorm: true };

  it('draws conv weights and biases from U(±1/√(in·kh·kw)) and sets BatchNorm to 1, 0, 0, 1', () => {
    const model = initModel(resnet, 4);
    expect(() => makeModel(resnet, model.params)).not.toThrow();
    for (const spec of paramSpecs(resnet)) {
      const data = model.params.get(spec.name)!.data;
      if (spec.role.startsWith('bn.')) {
        const expected = spec.role === 'bn.weight' || spec.role === 'bn.running_var' ? 1 : 0;
        expect(data.every((v) => v === expected), spec.name).toBe(true);
        continue;
      }
      const weight = layerSpecs(resnet)[spec.layer].shape;
      const fanIn = weight.slice(1).reduce((a, d) => a * d, 1);
      const bound = Math.fround(1 / Math.sqrt(fanIn));
      expect(defaultInitBound(weight)).toBeCloseTo(1 / Math.sqrt(fanIn), 15);
      expect(data.every((v) => Math.abs(v) <= bound), spec.name).toBe(true);
      // Used, not degenerate: 16·8·3·3 = 1152 values reach close to the bound.
      if (data.length >= 1000) expect(Math.max(...data.map(Math.abs))).toBeGreaterThan(0.99 * bound);
    }
    // layer2.0.conv1: fan_in 8·3·3 = 72; the 1×1 shortcut: fan_in 8.
    expect(defaultInitBound([16, 8, 3, 3])).toBeCloseTo(1 / Math.sqrt(72), 15);
    expect(defaultInitBound([16, 8, 1, 1])).toBeCloseTo(1 / Math.sqrt(8), 15);
  });

  it('is deterministic per seed for CNNs too', () => {
    const vgg: VggArch = { family: 'vgg', input: [8, 8, 3], config: [4, 'M', 6], classes: 3, bias: false };
    const [a, b, c] = [initModel(vgg, 1), initModel(vgg, 1), initModel(vgg, 2)];
    for (const [name, t] of a.params) {
      expect(sameBits(t.data, b.params.get(name)!.data)).toBe(true);
      expect(sameBits(t.data, c.params.get(name)!.data)).toBe(false);
    }
  });
});
