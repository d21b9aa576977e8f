/**
 * Winograd F(2×2, 3×3) against the cpu backend's direct convolution kernels (an independent
 * implementation: one multiply-add per tap), over odd and even sizes, paddings, batch sizes and
 * chunkings that split the tiles every way (one tile row per chunk, chunks not a multiple of the
 * GEMM's 4 tiles, one chunk for everything).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './index.ts';
import { relErr } from './test-helpers.ts';
import type { BackendWasm } from './wasm-backend.ts';
import { callStock, dispose, f32, heapMemory, heapOffset } from './wasm-backend.ts';
import { relaxedSimdValidates } from '../../engine/wasm/relaxed-simd.ts';
import { assemble } from '../../engine/wasm/wasm-asm.ts';
import { moduleFor } from './simd-kernels.ts';
import { GEMM_MADD_FUNCTIONS, WINOGRAD_FUNCTIONS, type WinogradKernels } from './winograd-simd.ts';
import { type WinogradGeometry, winogradApplies, winogradConv, winogradFilterGrad, winogradGeometry } from './winograd.ts';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

let seed = 7;
function rand(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out[i] = (seed / 2147483648) * 2 - 1;
  }
  return out;
}


async function onCpu(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): Promise<Float32Array> {
  await tf.setBackend('cpu');
  const out = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = Float32Array.from(out.dataSync());
  tf.dispose([out, ...Object.values(inputs)]);
  return values;
}

/** Runs `f` on the wasm backend with the given arrays as tensors there; returns the result's values. */
async function onWasm(arrays: Array<{ values: Float32Array; shape: number[] }>, f: (b: BackendWasm, ts: tf.TensorInfo[]) => tf.TensorInfo): Promise<Float32Array> {
  await tf.setBackend('wasm');
  const backend = tf.backend() as BackendWasm;
  const ts = arrays.map(({ values, shape }) => tf.tensor(values, shape));
  const out = f(backend, ts);
  const values = Float32Array.from(f32(backend, out));
  dispose(backend, out);
  tf.dispose(ts);
  return values;
}

/** The geometry the kernels derive from tfjs's description of a 3×3 stride-1 convolution. */
function geometry(x: number[], k: number, pad: Pad): WinogradGeometry {
  const g = winogradGeometry(tf.backend_util.computeConv2DInfo(x as [number, number, number, number], [3, 3, x[3], k], 1, 1, pad, undefined, false, 'channelsLast'));
  if (g === null) throw new Error(`test case ${x} → ${k} is not a Winograd convolution`);
  return g;
}

const CASES: Array<{ x: number[]; k: number; pad: Pad }> = [
  { x: [2, 8, 8, 4], k: 8, pad: 'same' },
  { x: [3, 5, 7, 8], k: 16, pad: 'same' },
  { x: [1, 6, 9, 4], k: 8, pad: 'valid' },
  { x: [2, 7, 4, 12], k: 24, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { x: [4, 2, 2, 16], k: 8, pad: 'same' },
  { x: [1, 1, 1, 4], k: 8, pad: 'same' },
  { x: [2, 3, 3, 32], k: 32, pad: 'valid' },
];
/** Tiles per chunk: one tile at a time (rounded up to a tile row), 5 (not a multiple of 4), default. */
const CHUNKS: Array<number | undefined> = [1, 5, undefined];

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('Winograd transforms', () => {
  it('the filter-gradient transform is the adjoint of the filter transform', async () => {
    // <U(g), m> = <g, Uᵀ(m)> for random g, m: checks the two hand-expanded transforms against each
    // other (the convolution tests below check them against direct convolution).
    await tf.setBackend('wasm');
    const backend = tf.backend() as BackendWasm;
    const k = moduleFor<WinogradKernels>(WINOGRAD_FUNCTIONS, heapMemory(backend));
    const ck = 4 * 5;
    const stride = ck * 4 + 64; // padded planes, as winograd.ts lays them out
    const gv = rand(9 * ck);
    const mv = new Float32Array((16 * stride) / 4);
    const mPlanes = rand(16 * ck);
    for (let xi = 0; xi < 16; xi++) mv.set(mPlanes.subarray(xi * ck, (xi + 1) * ck), (xi * stride) / 4);
    const [g, m, u, dg] = [gv, mv, new Float32Array((16 * stride) / 4), new Float32Array(9 * ck)].map((v) => tf.tensor(v));
    k.wgFilter(heapOffset(backend, g), heapOffset(backend, u), ck * 4, stride);
    k.wgFilterGrad(heapOffset(backend, m), stride, heapOffset(backend, dg), ck * 4);
    const uv = f32(backend, u);
    let left = 0;
    for (let xi = 0; xi < 16; xi++) for (let e = 0; e < ck; e++) left += uv[(xi * stride) / 4 + e] * mPlanes[xi * ck + e];
    const dgv = f32(backend, dg);
    const right = gv.reduce((acc, v, i) => acc + v * dgv[i], 0);
    expect(left).toBeCloseTo(right, 4);
    tf.dispose([g, m, u, dg]);
  });

  it('applies to 3×3 stride-1 convolutions with lane-sized channel counts only', () => {
    expect(winogradApplies(3, 3, [1, 1], [1, 1], 4, 8)).toBe(true);
    expect(winogradApplies(3, 3, [1, 1], [1, 1], 3, 8)).toBe(false);
    expect(winogradApplies(3, 3, [1, 1], [1, 1], 4, 12)).toBe(false);
    expect(winogradApplies(3, 3, [2, 2], [1, 1], 4, 8)).toBe(false);
    expect(winogradApplies(3, 3, [1, 1], [2, 2], 4, 8)).toBe(false);
    expect(winogradApplies(5, 5, [1, 1], [1, 1], 4, 8)).toBe(false);
  });
});

describe('the Winograd-domain GEMM', () => {
  // Both variants (plain SIMD, and relaxed multiply-add, which the convolutions use where the
  // runtime has it) against a float64 triple loop, in both operand layouts and both modes.
  // Without relaxed SIMD in this runtime the convolutions use the plain kernel, and the madd
  // variant's tests are reported as skipped.
  const madd = relaxedSimdValidates(assemble(GEMM_MADD_FUNCTIONS));
  const variants: Array<[string, boolean, () => WinogradKernels['gemmSplat']]> = [
    ['plain', true, () => moduleFor<WinogradKernels>(WINOGRAD_FUNCTIONS, heapMemory(tf.backend() as BackendWasm)).gemmSplat],
    ['relaxed madd', madd, () => moduleFor<{ gemmSplatMadd: WinogradKernels['gemmSplat'] }>(GEMM_MADD_FUNCTIONS, heapMemory(tf.backend() as BackendWasm)).gemmSplatMadd],
  ];
  for (const [name, available, gemmOf] of variants) {
    for (const transposedA of [false, true]) {
      for (const accumulate of [0, 1]) {
        it.skipIf(!available)(`${name}: A ${transposedA ? 'by columns' : 'by rows'}, ${accumulate ? 'accumulating' : 'from zero'}`, async () => {
          await tf.setBackend('wasm');
          const gemm = gemmOf();
          const backend = tf.backend() as BackendWasm;
          const [rows, cols, depth] = [12, 24, 7];
          const av = rand(rows * depth); // A(i, r) = av[i·depth + r] by rows, av[r·rows + i] by columns
          const bv = rand(depth * cols);
          const ov = rand(rows * cols);
          const [a, b, out] = [av, bv, ov].map((v) => tf.tensor(v));
          const [aIS, aRS] = transposedA ? [4, rows * 4] : [depth * 4, 4];
          gemm(heapOffset(backend, a), aIS, aRS, heapOffset(backend, b), cols * 4, heapOffset(backend, out), cols * 4, rows, cols * 4, depth, accumulate);
          const got = Float32Array.from(f32(backend, out));
          const want = new Float32Array(rows * cols);
          for (let i = 0; i < rows; i++) {
            for (let j = 0; j < cols; j++) {
              let sum = accumulate ? ov[i * cols + j] : 0;
              for (let r = 0; r < depth; r++) sum += (transposedA ? av[r * rows + i] : av[i * depth + r]) * bv[r * cols + j];
              want[i * cols + j] = sum;
            }
          }
          expect(relErr(got, want)).toBeLessThan(1e-6);
          tf.dispose([a, b, out]);
        });
      }
    }
  }
});

describe('Winograd F(2×2, 3×3) against direct convolution (cpu backend)', () => {
  for (const { x, k, pad } of CASES) {
    for (const chunk of CHUNKS) {
      const label = `x ${x.join('×')}, ${k} out, pad ${JSON.stringify(pad)}, chunk ${chunk ?? 'default'}`;
      it(`forward: ${label}`, async () => {
        const g = geometry(x, k, pad);
        const xv = rand(tf.util.sizeFromShape(x));
        const wv = rand(9 * x[3] * k);
        const want = await onCpu('Conv2D', { x: tf.tensor(xv, x), filter: tf.tensor(wv, [3, 3, x[3], k]) }, { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 });
        const got = await onWasm([{ values: xv, shape: x }, { values: wv, shape: [3, 3, x[3], k] }], (b, [xt, wt]) => winogradConv(b, xt, wt, g, false, chunk));
        expect(got.length).toBe(want.length);
        expect(relErr(got, want)).toBeLessThan(2e-6 * Math.sqrt(9 * x[3]));
      });

      it(`input gradient: ${label}`, async () => {
        // dx of the convolution x → y (ci → co channels) is a Winograd convolution of dy with the
        // flipped filter: ci and co swap roles, so the lane rules apply to co (in) and ci (out).
        const [ci, co] = [k, x[3]];
        // The forward convolution: input [batch, inH, inW, ci] → output dy's shape.
        const inShape = [x[0], x[1], x[2], ci];
        const fwdInfo = tf.backend_util.computeConv2DInfo(inShape as [number, number, number, number], [3, 3, ci, co], 1, 1, pad, undefined, false, 'channelsLast');
        const dys = [x[0], fwdInfo.outHeight, fwdInfo.outWidth, co];
        const dyv = rand(tf.util.sizeFromShape(dys));
        const wv = rand(9 * ci * co);
        const want = await onCpu('Conv2DBackpropInput', { dy: tf.tensor(dyv, dys), filter: tf.tensor(wv, [3, 3, ci, co]) }, { strides: 1, pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: inShape });
        const gi: WinogradGeometry = {
          batch: x[0], inH: dys[1], inW: dys[2], inC: co, outH: x[1], outW: x[2], outC: ci,
          padTop: 2 - fwdInfo.padInfo.top, padLeft: 2 - fwdInfo.padInfo.left,
        };
        const got = await onWasm([{ values: dyv, shape: dys }, { values: wv, shape: [3, 3, ci, co] }], (b, [dt, wt]) => winogradConv(b, dt, wt, gi, true, chunk));
        expect(got.length).toBe(want.length);
        expect(relErr(got, want)).toBeLessThan(2e-6 * Math.sqrt(9 * co));
      });

      it(`filter gradient: ${label}`, async () => {
        const g = geometry(x, k, pad);
        const dys = [g.batch, g.outH, g.outW, k];
        const xv = rand(tf.util.sizeFromShape(x));
        const dyv = rand(tf.util.sizeFromShape(dys));
        const want = await onCpu('Conv2DBackpropFilter', { x: tf.tensor(xv, x), dy: tf.tensor(dyv, dys) }, { strides: 1, pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [3, 3, x[3], k] });
        const got = await onWasm([{ values: xv, shape: x }, { values: dyv, shape: dys }], (b, [xt, dt]) => winogradFilterGrad(b, xt, dt, g, chunk));
        expect(got.length).toBe(want.length);
        expect(relErr(got, want)).toBeLessThan(2e-6 * Math.sqrt(g.batch * g.outH * g.outW));
      });
    }
  }
});

describe('Conv2D on the wasm backend', () => {
  const xShape = [2, 6, 6, 8];
  const wShape = [3, 3, 8, 16];
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined };

  it('keeps the stock XNNPACK convolution for inference, bit for bit', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as BackendWasm;
    const x = tf.tensor(rand(72 * 8), xShape);
    const w = tf.tensor(rand(9 * 8 * 16), wShape);
    const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
    const stock = callStock('Conv2D', { inputs: { x, filter: w }, backend, attrs: attrs as unknown as tf.NamedAttrMap });
    expect(Float32Array.from(y.dataSync())).toEqual(Float32Array.from(f32(backend, stock)));
    dispose(backend, stock);
    tf.dispose([x, w, y]);
  });

  it('runs Winograd in a training step\'s forward pass, and the step\'s gradients match the cpu backend', async () => {
    const xv = rand(72 * 8);
    const wv = rand(9 * 8 * 16);
    const rv = rand(72 * 16);
    // d/dx, d/dw of Σ conv(x, w) ⊙ r; `seen` keeps the forward output the tape recorded.
    const step = (seen: Float32Array[]) => {
      const r = tf.tensor(rv, [2, 6, 6, 16]);
      const grads = tf.grads((x: tf.Tensor, w: tf.Tensor) => {
        const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
        seen.push(Float32Array.from(y.dataSync()));
        return tf.sum(tf.mul(y, r));
      })([tf.tensor(xv, xShape), tf.tensor(wv, wShape)]);
      return grads.map((g) => Float32Array.from(g.dataSync()));
    };
    await tf.setBackend('cpu');
    const want = step([]);
    await tf.setBackend('wasm');
    const seen: Float32Array[] = [];
    const got = step(seen);
    const direct = await onWasm([{ values: xv, shape: xShape }, { values: wv, shape: wShape }], (b, [xt, wt]) =>
      winogradConv(b, xt, wt, geometry(xShape, 16, 'same'), false),
    );
    expect(seen[0]).toEqual(direct);
    for (let i = 0; i < 2; i++) expect(relErr(got[i], want[i])).toBeLessThan(1e-5);
  });

  it('FusedConv2D (conv + bias, as tfjs fuses it under a tape): Winograd plus the bias in a training step, stock otherwise', async () => {
    const xv = rand(72 * 8);
    const wv = rand(9 * 8 * 16);
    const bv = rand(16);
    const rv = rand(72 * 16);
    const fused = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 1, pad: 'same', bias: b });
    const step = (seen: Float32Array[]) => {
      const r = tf.tensor(rv, [2, 6, 6, 16]);
      const grads = tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
        const y = fused(x, w, b);
        seen.push(Float32Array.from(y.dataSync()));
        return tf.sum(tf.mul(y, r));
      })([tf.tensor(xv, xShape), tf.tensor(wv, wShape), tf.tensor(bv, [16])]);
      return grads.map((g) => Float32Array.from(g.dataSync()));
    };
    await tf.setBackend('cpu');
    const want = step([]);
    await tf.setBackend('wasm');
    const backend = tf.backend() as BackendWasm;
    const seen: Float32Array[] = [];
    const got = step(seen);
    const direct = await onWasm([{ values: xv, shape: xShape }, { values: wv, shape: wShape }], (b, [xt, wt]) =>
      winogradConv(b, xt, wt, geometry(xShape, 16, 'same'), false),
    );
    expect(seen[0]).toEqual(direct.map((v, i) => Math.fround(v + bv[i % 16])));
    for (let i = 0; i < 3; i++) expect(relErr(got[i], want[i])).toBeLessThan(1e-5);

    // Inference: the stock kernel, bit for bit.
    const [x, w, b] = [tf.tensor(xv, xShape), tf.tensor(wv, wShape), tf.tensor(bv, [16])];
    const y = fused(x, w, b);
    const stock = callStock('FusedConv2D', {
      inputs: { x, filter: w, bias: b },
      backend,
      attrs: { ...attrs, activation: 'linear' } as unknown as tf.NamedAttrMap,
    });
    expect(Float32Array.from(y.dataSync())).toEqual(Float32Array.from(f32(backend, stock)));
    dispose(backend, stock);
    tf.dispose([x, w, b, y]);
  });
});
