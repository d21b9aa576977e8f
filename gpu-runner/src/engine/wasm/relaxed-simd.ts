/**
 * WebAssembly relaxed SIMD (fused multiply-add) where the runtime has it.
 *
 * V8 ships relaxed SIMD enabled from 11.4 (Node 22, current browsers). Node
 * 20's V8 11.3 has the same, finished implementation behind the
 * `--experimental-wasm-relaxed-simd` flag, which only makes the decoder
 * accept the relaxed opcodes. The row-product kernel (fusion/row-products-
 * wasm.ts) uses one of them where it cannot change a result, so on Node 20
 * the flag is turned on from here, once, before that module is compiled:
 * V8 applies it to modules compiled afterwards, and modules already compiled
 * (tfjs's backend) are untouched. `process.getBuiltinModule` (Node ≥ 20.16)
 * reaches node:v8 without importing it, so the engine still loads where
 * there is no Node; there, and where setting the flag fails, the caller
 * falls back to plain SIMD.
 */

interface WasmValidate {
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
}

let flagTried = false;

/** Whether `bytes` (a module using relaxed SIMD) validates, after enabling relaxed SIMD on Node 20 if needed. */
export function relaxedSimdValidates(bytes: Uint8Array<ArrayBuffer>): boolean {
  const wasm = (globalThis as unknown as { WebAssembly?: WasmValidate }).WebAssembly;
  if (!wasm) return false;
  if (wasm.validate(bytes)) return true;
  if (flagTried) return false;
  flagTried = true;
  const proc = (globalThis as unknown as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const v8 = proc?.getBuiltinModule?.('node:v8') as { setFlagsFromString?: (flags: string) => void } | undefined;
  try {
    v8?.setFlagsFromString?.('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return wasm.validate(bytes);
}
