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
import { type SimdKernels, type WasmMemory, simdKernelsFor, wasmApi } from './simd-kernels.ts';

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
  const inputs = { a: view(a, [m, k]), b: view(b, [k, n]) };
  const attrs = { transposeA: false, transposeB: false };
  // The stock kernel directly when this module's BatchMatMul wrapper is installed (it would only
  // forward an untransposed product to it anyway).
  const out = stockKernels.has('BatchMatMul')
    ? callStock('BatchMatMul', { inputs, backend, attrs })
    : callWasmKernel('BatchMatMul', backend, inputs, attrs);
  return view(out, [m, n]);
}

export function dispose(backend: BackendWasm, t: TensorInfo): void {
  backend.disposeData(t.dataId);
}

interface BackendInternals {
  wasm: { asm?: { memory?: WasmMemory } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/** Byte offset of a tensor's data on the wasm heap (what the hand-written kernels take). */
export function heapOffset(backend: BackendWasm, t: TensorInfo): number {
  const entry = (backend as unknown as BackendInternals).dataIdMap.get(t.dataId);
  if (entry === undefined) throw new Error('tensor is not on this wasm backend');
  return entry.memoryOffset;
}

/** The backend's WebAssembly.Memory (tfjs-wasm's non-threaded build exports it as asm.memory). */
export function heapMemory(backend: BackendWasm): WasmMemory {
  const memory = (backend as unknown as BackendInternals).wasm.asm?.memory;
  if (!(memory instanceof wasmApi.Memory)) throw new Error('tfjs-wasm backend does not expose its memory');
  return memory;
}

/** The hand-written SIMD kernels bound to this backend's heap. */
export function simd(backend: BackendWasm): SimdKernels {
  return simdKernelsFor(heapMemory(backend));
}

/**
 * The backend's own kernels that this module wraps (BatchMatMul, Sum, Add), remembered when the
 * wrappers are installed: each wrapper handles the cases it is faster on and hands every other
 * case to the stock kernel unchanged.
 */
const stockKernels = new Map<string, tf.KernelFunc>();

export function rememberStock(name: string, kernelFunc: tf.KernelFunc): void {
  stockKernels.set(name, kernelFunc);
}

export function callStock(name: string, args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap }): TensorInfo {
  const kernelFunc = stockKernels.get(name);
  if (kernelFunc === undefined) throw new Error(`no stock wasm kernel ${name} was registered`);
  return kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
}
