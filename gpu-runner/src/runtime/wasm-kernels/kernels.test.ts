/**
 * Each wasm training kernel against the cpu backend's kernel of the same name, on random inputs
 * over a grid of shapes, strides, paddings and (where the kernel takes them) dilations. NHWC only.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { filterGradient } from './conv2d-backprop-filter.ts';
import { registerWasmTrainingKernels } from './index.ts';
import { relErr } from './test-helpers.ts';
import type { BackendWasm } from './wasm-backend.ts';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;
const PADS: Pad[] = ['same', 'valid', [[0, 0], [1, 2], [0, 1], [0, 0]]];
const STRIDES: Array<number | [number, number]> = [1, 2, [2, 1]];

let seed = 1;
function rand(shape: number[]): Float32Array {
  const out = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < out.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out[i] = (seed / 2147483648) * 2 - 1;
  }
  return out;
}

/** Runs a kernel on one backend with inputs given as plain arrays; returns shape and values. */
async function run(
  backend: string,
  name: string,
  inputs: Record<string, { shape: number[]; values: Float32Array | Int32Array; dtype?: 'float32' | 'int32' }>,
  attrs: Record<string, unknown>,
): Promise<{ shape: number[]; values: Float32Array }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const ts: tf.NamedTensorMap = {};
    for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.values, v.shape, v.dtype ?? 'float32');
    const out = tf.engine().runKernel(name, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
    return { shape: out.shape, values: Float32Array.from(out.dataSync()) };
  });
}

async function compare(name: string, inputs: Parameters<typeof run>[2], attrs: Record<string, unknown>): Promise<number> {
  const want = await run('cpu', name, inputs, attrs);
  const got = await run('wasm', name, inputs, attrs);
  expect(got.shape).toEqual(want.shape);
  const err = relErr(got.values, want.values);
  expect(err).toBeLessThan(1e-4);
  return err;
}

function convOutShape(x: number[], f: number[], strides: number | [number, number], pad: Pad, dilations: number | [number, number] = 1, depthwise = false): number[] {
  return tf.backend_util.computeConv2DInfo(x as [number, number, number, number], f as [number, number, number, number], strides, dilations, pad, undefined, depthwise).outShape;
}

const maxErr: Record<string, number> = {};
function note(name: string, err: number): void {
  maxErr[name] = Math.max(maxErr[name] ?? 0, err);
}

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('registerWasmTrainingKernels', () => {
  it('registers the missing kernels and is idempotent', () => {
    registerWasmTrainingKernels();
    const first = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    registerWasmTrainingKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBe(first);
    for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum']) {
      expect(tf.getKernel(k, 'wasm')).toBeDefined();
    }
  });
});

const CONV_CASES: Array<{ x: number[]; f: number[] }> = [
  { x: [2, 7, 6, 3], f: [3, 3, 3, 4] },
  { x: [1, 9, 9, 5], f: [2, 3, 5, 3] },
  { x: [3, 5, 8, 2], f: [1, 1, 2, 6] },
  { x: [2, 6, 6, 4], f: [5, 5, 4, 2] },
  // Channels a multiple of 4: the SIMD col2im of the strided backprop-input path.
  { x: [2, 9, 10, 8], f: [3, 3, 8, 4] },
  // Output channels a multiple of 8: the filter gradient's own SIMD GEMM (K = 27, 5·5·4 = 100 and
  // 72: a padded last panel and whole panels).
  { x: [2, 7, 6, 3], f: [3, 3, 3, 8] },
  { x: [1, 8, 9, 4], f: [5, 5, 4, 16] },
  { x: [2, 9, 10, 8], f: [3, 3, 8, 24] },
];

describe('Conv2DBackpropFilter and Conv2DBackpropInput match cpu', () => {
  for (const { x, f } of CONV_CASES) {
    for (const strides of STRIDES) {
      for (const pad of PADS) {
        it(`x=${x} f=${f} strides=${strides} pad=${JSON.stringify(pad)}`, async () => {
          const dyShape = convOutShape(x, f, strides, pad);
          const dy = { shape: dyShape, values: rand(dyShape) };
          note(
            'Conv2DBackpropFilter',
            await compare('Conv2DBackpropFilter', { x: { shape: x, values: rand(x) }, dy }, { strides, pad, dataFormat: 'NHWC', filterShape: f }),
          );
          note(
            'Conv2DBackpropInput',
            await compare('Conv2DBackpropInput', { dy, filter: { shape: f, values: rand(f) } }, { strides, pad, dataFormat: 'NHWC', inputShape: x }),
          );
        });
      }
    }
  }
});

describe('Conv2DBackpropFilter in chunks', () => {
  // chunkBytes = 1 makes every output row its own chunk (700 and 3000 bytes leave an odd last
  // chunk), so the sum over chunks, the per-chunk dy copy (Co = 6: XNNPACK) and the accumulation
  // across chunks and GEMM blocks (Co = 8, 16: the SIMD GEMM) are all exercised.
  for (const [chunkBytes, co] of [[1, 6], [700, 6], [1, 8], [3000, 16]]) {
    it(`matches cpu with chunks of ${chunkBytes} bytes, ${co} output channels`, async () => {
      const x = [3, 7, 5, 4];
      const f: [number, number, number, number] = [3, 2, 4, co];
      const pad: Pad = 'same';
      const dyShape = convOutShape(x, f, 1, pad);
      const xv = rand(x);
      const dyv = rand(dyShape);
      const want = await run('cpu', 'Conv2DBackpropFilter', { x: { shape: x, values: xv }, dy: { shape: dyShape, values: dyv } }, { strides: 1, pad, dataFormat: 'NHWC', filterShape: f });
      await tf.setBackend('wasm');
      const got = tf.tidy(() => {
        const xt = tf.tensor4d(xv, x as [number, number, number, number]);
        const dyt = tf.tensor4d(dyv, dyShape as [number, number, number, number]);
        const info = tf.backend_util.computeConv2DInfo(xt.shape, f, 1, 1, pad, undefined, false, 'channelsLast');
        const backend = tf.backend() as unknown as BackendWasm;
        const out = filterGradient(backend, xt, dyt, info, f, chunkBytes);
        return tf.engine().makeTensorFromTensorInfo(out).dataSync() as Float32Array;
      });
      const err = relErr(got, want.values);
      expect(err).toBeLessThan(1e-4);
      note('Conv2DBackpropFilter', err);
    });
  }
});

/** Filter [kH,kW,C,M] with dilation d → the equivalent undilated [(kH-1)dH+1, (kW-1)dW+1, C, M] with zeros between taps. */
function dilateFilter(f: number[], values: Float32Array, dH: number, dW: number): { shape: number[]; values: Float32Array } {
  const [kH, kW, c, m] = f;
  const shape = [(kH - 1) * dH + 1, (kW - 1) * dW + 1, c, m];
  const out = new Float32Array(tf.util.sizeFromShape(shape));
  for (let h = 0; h < kH; h++) for (let w = 0; w < kW; w++) out.set(values.subarray((h * kW + w) * c * m, (h * kW + w + 1) * c * m), (h * dH * shape[1] + w * dW) * c * m);
  return { shape, values: out };
}

describe('depthwise conv gradients match cpu', () => {
  const cases: Array<{ x: number[]; f: number[]; dilations: number | [number, number] }> = [
    { x: [2, 7, 6, 3], f: [3, 3, 3, 2], dilations: 1 },
    { x: [1, 9, 8, 4], f: [3, 2, 4, 1], dilations: 1 },
    { x: [2, 9, 9, 2], f: [3, 3, 2, 3], dilations: 2 },
    { x: [1, 10, 9, 3], f: [2, 3, 3, 1], dilations: [2, 1] },
  ];
  for (const { x, f, dilations } of cases) {
    for (const strides of STRIDES) {
      for (const pad of PADS) {
        // tfjs allows dilation > 1 only with stride 1.
        if (dilations !== 1 && strides !== 1) continue;
        it(`x=${x} f=${f} strides=${strides} dilations=${dilations} pad=${JSON.stringify(pad)}`, async () => {
          const dyShape = convOutShape(x, f, strides, pad, dilations, true);
          const dy = { shape: dyShape, values: rand(dyShape) };
          const xIn = { shape: x, values: rand(x) };
          const fv = rand(f);
          if (dilations === 1) {
            const attrs = { strides, pad, dilations };
            note('DepthwiseConv2dNativeBackpropFilter', await compare('DepthwiseConv2dNativeBackpropFilter', { x: xIn, dy }, { ...attrs, filterShape: f }));
            note('DepthwiseConv2dNativeBackpropInput', await compare('DepthwiseConv2dNativeBackpropInput', { dy, filter: { shape: f, values: fv } }, { ...attrs, inputShape: x }));
            return;
          }
          // The cpu kernels ignore `dilations` (tfjs's gradient only ever passes 1), so the
          // reference for a dilated filter is cpu on the equivalent zero-stuffed undilated filter.
          const [dH, dW] = typeof dilations === 'number' ? [dilations, dilations] : dilations;
          const big = dilateFilter(f, fv, dH, dW);
          const wasmAttrs = { strides, pad, dilations };
          const cpuAttrs = { strides, pad, dilations: 1 };
          const wantF = await run('cpu', 'DepthwiseConv2dNativeBackpropFilter', { x: xIn, dy }, { ...cpuAttrs, filterShape: big.shape });
          const gotF = await run('wasm', 'DepthwiseConv2dNativeBackpropFilter', { x: xIn, dy }, { ...wasmAttrs, filterShape: f });
          const wantTaps = new Float32Array(gotF.values.length);
          const [kH, kW, c, m] = f;
          for (let h = 0; h < kH; h++) for (let w = 0; w < kW; w++) wantTaps.set(wantF.values.subarray((h * dH * big.shape[1] + w * dW) * c * m, (h * dH * big.shape[1] + w * dW + 1) * c * m), (h * kW + w) * c * m);
          expect(gotF.shape).toEqual(f);
          const errF = relErr(gotF.values, wantTaps);
          expect(errF).toBeLessThan(1e-4);
          note('DepthwiseConv2dNativeBackpropFilter', errF);
          const wantI = await run('cpu', 'DepthwiseConv2dNativeBackpropInput', { dy, filter: big }, { ...cpuAttrs, inputShape: x });
          const gotI = await run('wasm', 'DepthwiseConv2dNativeBackpropInput', { dy, filter: { shape: f, values: fv } }, { ...wasmAttrs, inputShape: x });
          expect(gotI.shape).toEqual(wantI.shape);
          const errI = relErr(gotI.values, wantI.values);
          expect(errI).toBeLessThan(1e-4);
          note('DepthwiseConv2dNativeBackpropInput', errI);
        });
      }
    }
  }
});

describe('MaxPoolGrad matches cpu', () => {
  const cases: Array<{ x: number[]; filterSize: number | [number, number]; strides: number | [number, number] }> = [
    { x: [2, 8, 8, 3], filterSize: 2, strides: 2 },
    // Non-overlapping windows with channels a multiple of 4: the SIMD path (9×7 leaves a row and a
    // column outside every window; 'same' pads there, which takes the generic loop).
    { x: [2, 8, 6, 8], filterSize: 2, strides: 2 },
    { x: [1, 9, 7, 4], filterSize: 2, strides: 2 },
    { x: [2, 9, 9, 12], filterSize: 3, strides: 3 },
    { x: [1, 8, 9, 4], filterSize: [2, 3], strides: [2, 3] },
    { x: [1, 9, 7, 4], filterSize: 3, strides: 2 },
    { x: [2, 7, 7, 2], filterSize: 3, strides: 1 },
    { x: [1, 8, 9, 5], filterSize: [2, 3], strides: [2, 1] },
  ];
  for (const { x, filterSize, strides } of cases) {
    for (const pad of ['same', 'valid'] as const) {
      for (const ties of [false, true]) {
        it(`x=${x} filter=${filterSize} strides=${strides} pad=${pad}${ties ? ' with ReLU ties' : ''}`, async () => {
          let xs = rand(x);
          // After a ReLU whole windows are 0: the gradient must go to the first tap, as on cpu.
          if (ties) xs = xs.map((v) => Math.max(0, v));
          await tf.setBackend('cpu');
          const { outShape } = tf.backend_util.computePool2DInfo(x as [number, number, number, number], filterSize, strides, 1, pad);
          const output = tf.tidy(() => Float32Array.from(tf.maxPool(tf.tensor4d(xs, x as [number, number, number, number]), filterSize, strides, pad).dataSync()));
          const inputs = { dy: { shape: outShape, values: rand(outShape) }, input: { shape: x, values: xs }, output: { shape: outShape, values: output } };
          note('MaxPoolGrad', await compare('MaxPoolGrad', inputs, { filterSize, strides, pad }));
        });
      }
    }
  }
});

describe('UnsortedSegmentSum matches cpu', () => {
  for (const [xShape, idShape, numSegments] of [
    [[10, 4], [10], 5],
    [[6, 3, 2], [6], 4],
    [[12, 3, 5], [12], 7],
  ] as Array<[number[], number[], number]>) {
    it(`x=${xShape} ids=${idShape} numSegments=${numSegments}`, async () => {
      const n = tf.util.sizeFromShape(idShape);
      // Includes ids outside [0, numSegments), which both backends drop.
      const ids = Int32Array.from({ length: n }, (_, i) => ((i * 7) % (numSegments + 2)) - 1);
      note(
        'UnsortedSegmentSum',
        await compare('UnsortedSegmentSum', { x: { shape: xShape, values: rand(xShape) }, segmentIds: { shape: idShape, values: ids, dtype: 'int32' } }, { numSegments }),
      );
    });
  }
});

describe('end to end', () => {
  it('the gradients of a small conv net agree between wasm and cpu', async () => {
    const xv = rand([4, 12, 12, 3]);
    const w1v = rand([3, 3, 3, 5]);
    const w2v = rand([3, 3, 5, 4]);
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(xv, [4, 12, 12, 3]);
        const f = (...ws: tf.Tensor[]) => {
          const [w1, w2] = ws as [tf.Tensor4D, tf.Tensor4D];
          let h = tf.relu(tf.conv2d(x, w1, 1, 'same'));
          h = tf.maxPool(h, 2, 2, 'valid');
          h = tf.relu(tf.conv2d(h, w2, 2, 'same'));
          return tf.sum(tf.square(h));
        };
        const [g1, g2] = tf.grads(f)([tf.tensor4d(w1v, [3, 3, 3, 5]), tf.tensor4d(w2v, [3, 3, 5, 4])]);
        return [Float32Array.from(g1.dataSync()), Float32Array.from(g2.dataSync())];
      });
    };
    const want = await grads('cpu');
    const got = await grads('wasm');
    expect(relErr(got[0], want[0])).toBeLessThan(1e-4);
    expect(relErr(got[1], want[1])).toBeLessThan(1e-4);
  });

  it('reports the largest relative error per kernel', () => {
    // Printed so the numbers quoted in reviews come from the test run itself.
    console.log('max relative error vs cpu:', JSON.stringify(maxErr));
    expect(Object.keys(maxErr).length).toBe(6);
  });
});
