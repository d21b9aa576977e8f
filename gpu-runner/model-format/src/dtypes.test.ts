import { describe, expect, it } from 'vitest';
import { type RawTensor, bf16ToNumber, decodeTensor, f16ToNumber, toFloat32, toInt32Labels } from './dtypes.ts';

function raw16(dtype: 'F16' | 'BF16', words: number[]): RawTensor {
  const bytes = new Uint8Array(words.length * 2);
  const dv = new DataView(bytes.buffer);
  words.forEach((w, i) => dv.setUint16(2 * i, w, true));
  return { dtype, shape: [words.length], bytes };
}

describe('f16 decoding', () => {
  // Hand-computed: value = (-1)^s · (1 + m/1024) · 2^(e-15); subnormals m · 2^-24.
  const cases: Array<[number, number]> = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x0400, 2 ** -14], // smallest normal
    [0x7bff, 65504], // largest finite
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  it.each(cases)('0x%s decodes to the hand-computed value', (bits, value) => {
    expect(f16ToNumber(bits)).toBe(value);
  });

  it('keeps the sign of zero and decodes NaN', () => {
    expect(Object.is(f16ToNumber(0x8000), -0)).toBe(true);
    expect(f16ToNumber(0x7e00)).toBeNaN();
    expect(f16ToNumber(0xfe01)).toBeNaN();
  });

  it('decodes an F16 tensor to float32 through toFloat32', () => {
    const data = toFloat32(raw16('F16', [0x3c00, 0x0001, 0x8000, 0x7c00, 0x7e00]), 'w');
    expect(Array.from(data.subarray(0, 2))).toEqual([1, Math.fround(2 ** -24)]);
    expect(Object.is(data[2], -0)).toBe(true);
    expect(data[3]).toBe(Infinity);
    expect(data[4]).toBeNaN();
  });
});

describe('bf16 decoding', () => {
  const cases: Array<[number, number]> = [
    [0x0000, 0],
    [0x3f80, 1],
    [0xc040, -3],
    [0x3eab, 0.333984375],
    [0x0001, 2 ** -133], // smallest subnormal: 2^-149 · 2^16
    [0x007f, 127 * 2 ** -133], // largest subnormal
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ];
  it.each(cases)('0x%s decodes to the hand-computed value', (bits, value) => {
    expect(bf16ToNumber(bits)).toBe(value);
    expect(toFloat32(raw16('BF16', [bits]), 'w')[0]).toBe(value);
  });

  it('keeps the sign of zero and decodes NaN', () => {
    expect(Object.is(bf16ToNumber(0x8000), -0)).toBe(true);
    expect(Object.is(toFloat32(raw16('BF16', [0x8000]), 'w')[0], -0)).toBe(true);
    expect(toFloat32(raw16('BF16', [0x7fc0]), 'w')[0]).toBeNaN();
  });
});

describe('integer and f64 decoding', () => {
  function rawFrom(dtype: RawTensor['dtype'], array: ArrayBufferView): RawTensor {
    return { dtype, shape: [], bytes: new Uint8Array(array.buffer, array.byteOffset, array.byteLength) };
  }

  it('decodes each readable dtype into its natural typed array', () => {
    expect(decodeTensor(rawFrom('F64', new Float64Array([1.5, -2])), 't')).toEqual(new Float64Array([1.5, -2]));
    expect(decodeTensor(rawFrom('I64', new BigInt64Array([5n, -7n])), 't')).toEqual(new BigInt64Array([5n, -7n]));
    expect(decodeTensor(rawFrom('I32', new Int32Array([3, -4])), 't')).toEqual(new Int32Array([3, -4]));
    expect(decodeTensor(rawFrom('U8', new Uint8Array([0, 255])), 't')).toEqual(new Uint8Array([0, 255]));
    expect(decodeTensor(rawFrom('I8', new Int8Array([-128, 127])), 't')).toEqual(new Int8Array([-128, 127]));
  });

  it('decodes from an unaligned byte offset', () => {
    const bytes = new Uint8Array(9);
    new DataView(bytes.buffer).setFloat64(1, 3.25, true);
    expect(decodeTensor({ dtype: 'F64', shape: [1], bytes: bytes.subarray(1) }, 't')).toEqual(new Float64Array([3.25]));
  });

  it('refuses dtypes the spec defines but this code does not read, naming the tensor', () => {
    expect(() => decodeTensor({ dtype: 'BOOL', shape: [1], bytes: new Uint8Array(1) }, 'mask')).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining('tensor mask has dtype BOOL') }),
    );
  });

  it('toFloat32 rejects integers by default, casts or scales images on request', () => {
    const u8 = rawFrom('U8', new Uint8Array([0, 51, 255]));
    expect(() => toFloat32(u8, 'fc1.weight')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining('fc1.weight') }));
    expect(Array.from(toFloat32(u8, 'x', { integers: 'cast' }))).toEqual([0, 51, 255]);
    expect(Array.from(toFloat32(u8, 'x', { integers: 'image' }))).toEqual([0, Math.fround(0.2), 1]);
    expect(Array.from(toFloat32(rawFrom('I64', new BigInt64Array([-3n])), 'x', { integers: 'image' }))).toEqual([-3]);
    expect(Array.from(toFloat32(rawFrom('F64', new Float64Array([0.5])), 'x'))).toEqual([0.5]);
  });

  it('toInt32Labels accepts integer dtypes and rejects floats and out-of-range labels', () => {
    expect(toInt32Labels(rawFrom('I64', new BigInt64Array([0n, 9n])), 'y')).toEqual(new Int32Array([0, 9]));
    expect(toInt32Labels(rawFrom('U8', new Uint8Array([3])), 'y')).toEqual(new Int32Array([3]));
    expect(() => toInt32Labels(rawFrom('F32', new Float32Array([1])), 'y')).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining('labels must be integers') }),
    );
    expect(() => toInt32Labels(rawFrom('I32', new Int32Array([1, -1])), 'y')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/tensor y .* -1 at index 1/) }),
    );
    expect(() => toInt32Labels(rawFrom('I64', new BigInt64Array([2n ** 40n])), 'y')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
