import { describe, expect, it } from 'vitest';
import { NORMALIZE_PRESETS, transformDataset } from './dataset-transforms.ts';

const gray = { x: { shape: [2, 1, 2, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }, y: new Int32Array([3, 4]) };

describe('transformDataset', () => {
  it('repeats a grayscale channel', () => {
    const out = transformDataset(gray, { channels: 3 });
    expect(out.x.shape).toEqual([2, 3, 2, 2]);
    expect(Array.from(out.x.data)).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7, 8, 5, 6, 7, 8]);
    expect(out.y).toBe(gray.y);
    expect(transformDataset(gray, { channels: 1 }).x).toBe(gray.x);
  });

  it('pads with zeros on every side', () => {
    const out = transformDataset({ x: { shape: [1, 1, 2, 2], data: Float32Array.from([1, 2, 3, 4]) } }, { pad: 1 });
    expect(out.x.shape).toEqual([1, 1, 4, 4]);
    expect(Array.from(out.x.data)).toEqual([0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0]);
  });

  it('pads 28×28 to 32×32', () => {
    const out = transformDataset({ x: { shape: [1, 1, 28, 28], data: new Float32Array(784).fill(1) } }, { pad: 2 });
    expect(out.x.shape).toEqual([1, 1, 32, 32]);
    expect(out.x.data.reduce((a, b) => a + b, 0)).toBe(784);
    expect(out.x.data[2 * 32 + 2]).toBe(1);
    expect(out.x.data[2 * 32 + 1]).toBe(0);
  });

  it('normalizes per channel, with presets, scalars and arrays', () => {
    const rgb = { x: { shape: [1, 3, 1, 2], data: Float32Array.from([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]) } };
    const out = transformDataset(rgb, { normalize: 'cifar10' });
    const { mean, std } = NORMALIZE_PRESETS.cifar10;
    expect(Array.from(out.x.data)).toEqual([0, 0, 1, 1, 2, 2].map((c) => Math.fround((0.5 - mean[c]) / std[c])));
    const mnist = transformDataset(gray, { normalize: 'mnist' });
    expect(mnist.x.data[0]).toBeCloseTo((1 - 0.1307) / 0.3081, 5);
    expect(transformDataset(gray, { normalize: 'fashion-mnist' }).x.data[0]).toBeCloseTo((1 - 0.286) / 0.353, 5);
    const flat = transformDataset({ x: { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) } }, { normalize: { mean: [1], std: 2 } });
    expect(Array.from(flat.x.data)).toEqual([0, 0.5, 1, 1.5]);
  });

  it('applies channels → pad → normalize → flatten in that order', () => {
    const out = transformDataset(gray, { channels: 3, pad: 1, normalize: { mean: [1, 2, 3], std: [1, 1, 1] }, flatten: true });
    expect(out.x.shape).toEqual([2, 3 * 4 * 4]);
    // The padded border of channel 2 normalizes to (0 − 2) / 1.
    expect(out.x.data[16]).toBe(-2);
    // Pixel (1,1) of channel 0 of the first image was 1 → 0.
    expect(out.x.data[5]).toBe(0);
  });

  it('rejects transforms that do not fit the data, naming the option', () => {
    const flat = { x: { shape: [1, 4], data: new Float32Array(4) } };
    expect(() => transformDataset(flat, { pad: 2 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('pad needs NCHW') }));
    expect(() => transformDataset(flat, { channels: 3 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => transformDataset(gray, { normalize: 'cifar10' })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('normalize.mean has 3 values but x has 1 channel') }),
    );
    expect(() => transformDataset(gray, { normalize: { mean: 0, std: 0 } })).toThrow(expect.objectContaining({ message: expect.stringContaining('normalize.std') }));
    expect(() => transformDataset(gray, { normalize: 'imagenet' as never })).toThrow(expect.objectContaining({ message: expect.stringContaining('unknown normalization preset') }));
    expect(() => transformDataset(gray, { pad: -1 })).toThrow(expect.objectContaining({ message: expect.stringContaining('pad must be') }));
    const rgb = { x: { shape: [1, 3, 1, 1], data: new Float32Array(3) } };
    expect(() => transformDataset(rgb, { channels: 1 })).toThrow(expect.objectContaining({ message: expect.stringContaining('single channel') }));
  });
});
