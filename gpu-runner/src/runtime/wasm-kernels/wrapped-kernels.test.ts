/**
 * The wrapped stock kernels (BatchMatMul, Sum, Add, Identity) against the cpu backend, on shapes
 * that take the fast paths and on shapes that must fall back to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { WRAPPED_WASM_KERNELS, registerWasmTrainingKernels } from './index.ts';
import { sleb, uleb } from '../../engine/wasm/wasm-asm.ts';

let seed = 3;
function rand(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed / 2147483648) * 2 - 1;
  });
}

async function onBoth(f: () => tf.Tensor): Promise<{ want: tf.TypedArray; got: tf.TypedArray; wantShape: number[]; gotShape: number[] }> {
  await tf.setBackend('cpu');
  const [want, wantShape] = tf.tidy(() => {
    const t = f();
    return [t.dataSync().slice(), t.shape] as const;
  });
  await tf.setBackend('wasm');
  const [got, gotShape] = tf.tidy(() => {
    const t = f();
    return [t.dataSync().slice(), t.shape] as const;
  });
  return { want, got, wantShape, gotShape };
}

async function expectSame(f: () => tf.Tensor, tol = 1e-5): Promise<void> {
  const { want, got, wantShape, gotShape } = await onBoth(f);
  expect(gotShape).toEqual(wantShape);
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]) / scale).toBeLessThanOrEqual(tol);
}

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('wrapped kernels', () => {
  it('are installed over the stock kernels', () => {
    for (const name of WRAPPED_WASM_KERNELS) expect(tf.getKernel(name, 'wasm')).toBeDefined();
  });

  describe('BatchMatMul', () => {
    for (const [m, k, n] of [[5, 7, 3], [64, 33, 10], [1, 16, 9], [17, 1, 4]]) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        it(`${m}×${k}×${n} transposeA=${ta} transposeB=${tb}`, async () => {
          const av = rand(m * k);
          const bv = rand(k * n);
          await expectSame(() => tf.matMul(tf.tensor2d(av, ta ? [k, m] : [m, k]), tf.tensor2d(bv, tb ? [n, k] : [k, n]), ta, tb));
        });
      }
    }
    it('rank 3 with batch 1 keeps the batch axis', async () => {
      const av = rand(6 * 4);
      const bv = rand(4 * 5);
      await expectSame(() => tf.matMul(tf.tensor3d(av, [1, 4, 6]), tf.tensor3d(bv, [1, 5, 4]), true, true));
    });
    it('batched products fall back to the stock kernel', async () => {
      const av = rand(3 * 4 * 6);
      const bv = rand(3 * 5 * 4);
      await expectSame(() => tf.matMul(tf.tensor3d(av, [3, 4, 6]), tf.tensor3d(bv, [3, 5, 4]), true, true));
    });
    it('the gradient of a dense layer matches', async () => {
      const xv = rand(8 * 12);
      const wv = rand(12 * 5);
      await expectSame(() => {
        const [gx, gw] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D))))([tf.tensor2d(xv, [8, 12]), tf.tensor2d(wv, [12, 5])]);
        return tf.concat([gx.flatten(), gw.flatten()]);
      });
    });
  });

  describe('Sum', () => {
    const cases: Array<{ shape: number[]; axis: number | number[]; keepDims?: boolean }> = [
      { shape: [6, 5, 4, 8], axis: [0, 1, 2] },
      { shape: [6, 5, 4, 8], axis: [2, 0, 1], keepDims: true },
      { shape: [300, 12], axis: 0 },
      { shape: [7, 3, 4], axis: [-3, -2] },
      // Fallbacks: last axis not a multiple of 4, reduced axes not the leading ones, a full sum.
      { shape: [6, 5, 10], axis: [0, 1] },
      { shape: [6, 5, 8], axis: [1, 2] },
      { shape: [6, 8], axis: [0, 1] },
      { shape: [6, 8], axis: 1 },
    ];
    for (const { shape, axis, keepDims } of cases) {
      it(`shape=${shape} axis=${axis} keepDims=${keepDims ?? false}`, async () => {
        const v = rand(tf.util.sizeFromShape(shape));
        await expectSame(() => tf.sum(tf.tensor(v, shape), axis, keepDims), 1e-6);
      });
    }
    it('int32 falls back to the stock kernel', async () => {
      await expectSame(() => tf.sum(tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [2, 4], 'int32'), 0));
    });
  });

  describe('Add', () => {
    const cases: Array<[number[], number[]]> = [
      [[4, 3, 5, 8], [8]],
      [[8], [4, 3, 5, 8]],
      [[4, 3, 5, 8], [1, 1, 1, 8]],
      [[10, 12], [1, 12]],
      // Fallbacks: same shapes, a last axis not a multiple of 4, broadcasting along another axis.
      [[4, 3, 5, 8], [4, 3, 5, 8]],
      [[4, 6], [6]],
      [[4, 8], [4, 1]],
      [[8], [8]],
      [[2, 8], []],
    ];
    for (const [a, b] of cases) {
      it(`[${a}] + [${b}]`, async () => {
        const av = rand(tf.util.sizeFromShape(a));
        const bv = rand(tf.util.sizeFromShape(b));
        await expectSame(() => tf.add(tf.tensor(av, a), tf.tensor(bv, b)), 0);
      });
    }
  });

  describe('Identity', () => {
    it('a clone outlives its source and keeps its values', async () => {
      await tf.setBackend('wasm');
      const before = tf.memory().numBytes;
      const source = tf.tensor1d([1, 2, 3, 4]);
      const copy = source.clone();
      source.dispose();
      expect(Array.from(copy.dataSync())).toEqual([1, 2, 3, 4]);
      copy.dispose();
      expect(tf.memory().numBytes).toBe(before);
    });
    it('a variable initialised from a clone is unaffected by later assigns to another', async () => {
      await tf.setBackend('wasm');
      const source = tf.tensor1d([5, 6]);
      const a = tf.variable(source.clone());
      const b = tf.variable(source.clone());
      a.assign(tf.tensor1d([7, 8]));
      expect(Array.from(b.dataSync())).toEqual([5, 6]);
      expect(Array.from(source.dataSync())).toEqual([5, 6]);
      tf.dispose([source, a, b]);
    });
  });
});

describe('Cast', () => {
  it('to the same dtype shares the values, to another converts', async () => {
    await expectSame(() => tf.cast(tf.tensor1d([1.5, -2.25, 3]), 'float32'), 0);
    await expectSame(() => tf.cast(tf.tensor1d([1, 0, 3], 'int32'), 'int32'), 0);
    // Other conversions go to the stock kernel; one where it agrees with cpu (stock wasm rounds
    // float → int32 where cpu truncates, and casts int32 3 to bool as 3, so those are not compared).
    await expectSame(() => tf.cast(tf.tensor1d([1, -2, 3]), 'int32'), 0);
  });
});

describe('wasm assembler encodings', () => {
  it('LEB128 as in the spec examples', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-64)).toEqual([0x40]);
  });
});
