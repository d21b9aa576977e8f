/**
 * Thin, typed access to the internals of tfjs's wasm backend that the training kernels need.
 *
 * The kernels here run *inside* the wasm backend: their inputs already live on the wasm heap, so
 * instead of round-tripping through `dataSync()` they read the heap through Float32Array views and
 * hand work to kernels the backend already has (BatchMatMul → XNNPACK, Transpose) by calling their
 * kernel functions directly, which is what the backend's own composite kernels do.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type { BackendWasm };
export type TensorInfo = tf.TensorInfo;

/** Float32 view of a tensor's bytes on the wasm heap (a live view: re-take it after any allocation,
 * because heap growth detaches older views). */
export function f32(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Int32 view of an int32 tensor on the wasm heap. */
export function i32(backend: BackendWasm, t: TensorInfo): Int32Array {
  return backend.typedArrayFromHeap(t) as Int32Array;
}

/** Same bytes, different shape. No copy: a wasm tensor's layout is always dense row-major. */
export function view(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** Calls another kernel registered for 'wasm' directly (no engine bookkeeping, no tape). */
export function callWasmKernel(
  name: string,
  backend: BackendWasm,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) throw new Error(`wasm kernel ${name} is not registered`);
  const out = kernel.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`wasm kernel ${name} returned several outputs`);
  return out;
}

/** C[m,n] = A[m,k] · B[k,n] with XNNPACK. Only the untransposed form: in tfjs-wasm 4.22 the
 * transposeA/transposeB variants fall off XNNPACK onto a scalar loop and run ~10× slower
 * (measured 68 ms vs 6 ms for 288×4096×64), so callers lay their operands out to avoid them. */
export function matMul(backend: BackendWasm, a: TensorInfo, b: TensorInfo, m: number, k: number, n: number): TensorInfo {
  const out = callWasmKernel('BatchMatMul', backend, { a: view(a, [m, k]), b: view(b, [k, n]) }, { transposeA: false, transposeB: false });
  return view(out, [m, n]);
}

export function dispose(backend: BackendWasm, t: TensorInfo): void {
  backend.disposeData(t.dataId);
}
