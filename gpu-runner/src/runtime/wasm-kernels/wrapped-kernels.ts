/**
 * Faster paths for five stock tfjs-wasm kernels on the shapes a training step produces, each
 * falling back to the stock kernel (callStock) for everything else. Results are identical to the
 * stock kernels' (same operations in the same order), except BatchMatMul's transposed cases,
 * which XNNPACK sums in its own order.
 *
 * Measured on the tiny CNN at batch 64 (CPU time per step, see bench/train-bench.ts --profile):
 *  - BatchMatMul with transposeA/transposeB: tfjs-wasm 4.22 sends these to a scalar loop, ~10–50×
 *    slower than its XNNPACK path (784×400 layer, batch 64: 17 ms vs 1.3 ms). Autodiff of every
 *    dense layer produces both forms. Transposing the operand explicitly (SIMD module) and running
 *    the untransposed product is cheaper for any size;
 *  - Sum over all axes but the last (the bias gradient of a conv or dense layer): the stock kernel
 *    first transposes the tensor so the reduced axes are innermost; a column sum reads it once;
 *  - Add of a [C] row vector to a [..., C] tensor (bias add): the stock broadcasting path is ~3.5×
 *    slower than its same-shape add;
 *  - Identity: the stock kernel copies the buffer. tfjs-core clones every tensor it saves for the
 *    backward pass, so a training step copied each activation once more (33 copies per tiny-CNN
 *    step). tfjs buffers are immutable once written and the wasm backend reference-counts them
 *    (its own Reshape shares the buffer the same way), so Identity can share it too;
 *  - Cast to the dtype the tensor already has: a copy on the stock kernel, made by every ReLU
 *    gradient (dy · cast(step(x), 'float32')); shared like Identity.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, callStock, dispose, heapOffset, simd, view } from './wasm-backend.ts';

interface Args {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}

/** [rows, cols] → a new [cols, rows] tensor. */
function transposed(backend: BackendWasm, t: TensorInfo, rows: number, cols: number): TensorInfo {
  const out = backend.makeOutput([cols, rows], 'float32');
  simd(backend).transpose2d(heapOffset(backend, t), heapOffset(backend, out), rows, cols);
  return out;
}

export function batchMatMul(args: Args): TensorInfo {
  const { backend } = args;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  if (
    (!transposeA && !transposeB) ||
    a.dtype !== 'float32' ||
    b.dtype !== 'float32' ||
    a.shape.length < 2 ||
    b.shape.length < 2 ||
    tf.util.sizeFromShape(outerA) !== 1 ||
    tf.util.sizeFromShape(outerB) !== 1
  ) {
    return callStock('BatchMatMul', args);
  }
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const [m, k] = transposeA ? [aCols, aRows] : [aRows, aCols];
  const [k2, n] = transposeB ? [bCols, bRows] : [bRows, bCols];
  // Mismatched inner sizes: let the stock kernel raise its usual error.
  if (k !== k2) return callStock('BatchMatMul', args);
  const a2 = transposeA ? transposed(backend, a, aRows, aCols) : view(a, [m, k]);
  const b2 = transposeB ? transposed(backend, b, bRows, bCols) : view(b, [k, n]);
  const out = callStock('BatchMatMul', { inputs: { a: a2, b: b2 }, backend, attrs: { transposeA: false, transposeB: false } });
  if (transposeA) dispose(backend, a2);
  if (transposeB) dispose(backend, b2);
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  return view(out, [...outer, m, n]);
}

export function sum(args: Args): TensorInfo {
  const { backend } = args;
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  const rank = x.shape.length;
  const c = x.shape[rank - 1];
  const axes = rank === 0 ? [] : tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const leading = rank >= 2 && axes.length === rank - 1 && axes.every((v, i) => v === i);
  if (x.dtype !== 'float32' || !leading || c % 4 !== 0 || c === 0) return callStock('Sum', args);
  const out = backend.makeOutput(keepDims ? [...Array<number>(rank - 1).fill(1), c] : [c], 'float32');
  simd(backend).columnSum(heapOffset(backend, x), heapOffset(backend, out), tf.util.sizeFromShape(x.shape) / c, c * 4);
  return out;
}

/** v is a row vector ([C], or [1, …, 1, C]) matching t's last axis C. */
function isRowVectorOf(v: TensorInfo, t: TensorInfo): boolean {
  const c = t.shape[t.shape.length - 1];
  return (
    t.shape.length >= 1 &&
    v.shape.length >= 1 &&
    v.shape.length <= t.shape.length &&
    v.shape[v.shape.length - 1] === c &&
    tf.util.sizeFromShape(v.shape) === c
  );
}

export function add(args: Args): TensorInfo {
  const { backend } = args;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  if (a.dtype === 'float32' && b.dtype === 'float32') {
    // Same-shape adds are already fast on the stock kernel; only the broadcast case is taken.
    const [big, vec] = a.shape.length > b.shape.length || tf.util.sizeFromShape(a.shape) > tf.util.sizeFromShape(b.shape) ? [a, b] : [b, a];
    const c = big.shape[big.shape.length - 1];
    if (tf.util.sizeFromShape(big.shape) > c && c % 4 === 0 && c > 0 && isRowVectorOf(vec, big)) {
      const out = backend.makeOutput(big.shape, 'float32');
      simd(backend).addRowVector(heapOffset(backend, big), heapOffset(backend, vec), heapOffset(backend, out), tf.util.sizeFromShape(big.shape) / c, c * 4);
      return out;
    }
  }
  return callStock('Add', args);
}

export function identity(args: Args): TensorInfo {
  const { backend } = args;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return callStock('Identity', args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export function cast(args: Args): TensorInfo {
  const { backend } = args;
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  if (x.dtype !== dtype || dtype === 'string' || dtype === 'complex64') return callStock('Cast', args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype };
}
