/**
 * A tiny WebAssembly assembler: just enough of the binary format (one imported memory, i32/v128
 * functions, structured control flow, the SIMD ops the training kernels use) to emit a module
 * from TypeScript at load time.
 *
 * Why not a checked-in .wasm: the module is a few hundred bytes, so building it on import costs
 * well under a millisecond, needs no build step or binary toolchain (wabt, clang) and keeps the
 * kernels' source reviewable as ordinary code. The encoding follows the WebAssembly core spec
 * (binary format, §5) and the fixed-width SIMD proposal's opcode table.
 */

export type Bytes = readonly number[];

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (32-bit range). */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

const simd = (op: number): Bytes => [0xfd, ...uleb(op)];
/** memarg: alignment exponent, then the constant byte offset. */
const mem = (align: number, offset: number): Bytes => [...uleb(align), ...uleb(offset)];

/** Instruction encoders. Each returns the bytes of one instruction. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (depth: number): Bytes => [0x0c, ...uleb(depth)],
  brIf: (depth: number): Bytes => [0x0d, ...uleb(depth)],
  get: (local: number): Bytes => [0x20, ...uleb(local)],
  set: (local: number): Bytes => [0x21, ...uleb(local)],
  tee: (local: number): Bytes => [0x22, ...uleb(local)],
  i32: (value: number): Bytes => [0x41, ...sleb(value)],
  f32: (value: number): Bytes => [0x43, ...new Uint8Array(new Float32Array([value]).buffer)],
  f32Load: (offset = 0): Bytes => [0x2a, ...mem(2, offset)],
  f32Store: (offset = 0): Bytes => [0x38, ...mem(2, offset)],
  i32Eqz: [0x45],
  i32Eq: [0x46],
  i32Ne: [0x47],
  i32LtS: [0x48],
  i32LtU: [0x49],
  i32GtS: [0x4a],
  i32GeS: [0x4e],
  i32GeU: [0x4f],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32DivU: [0x6e],
  i32And: [0x71],
  i32Shl: [0x74],
  i32ShrU: [0x76],
  f32Add: [0x92],
  select: [0x1b],
  drop: [0x1a],
  v128Load: (offset = 0): Bytes => [...simd(0x00), ...mem(0, offset)],
  v128Store: (offset = 0): Bytes => [...simd(0x0b), ...mem(0, offset)],
  /** v128.load32_splat: one float from memory into all four lanes (a broadcast load on x64). */
  v128Load32Splat: (offset = 0): Bytes => [...simd(0x09), ...mem(2, offset)],
  f32x4Splat: simd(0x13),
  f32x4Eq: simd(0x41),
  f32x4Gt: simd(0x44),
  v128And: simd(0x4e),
  v128AndNot: simd(0x4f),
  f32x4Neg: simd(0xe1),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  /** i8x16.shuffle with its 16 lane indices (0–15 pick from the first operand, 16–31 the second). */
  shuffle: (lanes: readonly number[]): Bytes => [...simd(0x0d), ...lanes],
  /** Bulk memory: memory.fill(dst, byte value, length). */
  memoryFill: [0xfc, ...uleb(11), 0x00],
  /** Bulk memory: memory.copy(dst, src, length) within the one memory. */
  memoryCopy: [0xfc, ...uleb(10), 0x00, 0x00],
} as const;

export interface FunctionDef {
  name: string;
  params: ValType[];
  /** Extra locals, numbered after the params. */
  locals: ValType[];
  body: Bytes[];
}

function section(id: number, payload: Bytes): Bytes {
  return [id, ...uleb(payload.length), ...payload];
}

function vec(items: Bytes[]): Bytes {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): Bytes {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

/**
 * A module that imports `env.memory` (no minimum size, so any memory fits) and exports each
 * function under its name. All functions return nothing.
 */
export function assemble(functions: FunctionDef[]): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0x00]);
  const imports = [[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]];
  const funcs = functions.map((_, i) => uleb(i));
  const exports = functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const codes = functions.map((f) => {
    // Locals are declared as runs of one type each (count, type).
    const runs: number[][] = [];
    for (const t of f.locals) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    const body = [...vec(runs.map(([count, t]) => [...uleb(count), t])), ...f.body.flat(), ...op.end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcs)),
    ...section(7, vec(exports)),
    ...section(10, vec(codes)),
  ]);
}

/** Structured helpers for the common loop shapes, so kernel bodies read like the loops they are. */

/** `for (i = from; i < to; i += step) body` with i32 locals; `to` and `step` are instruction sequences. */
export function forLoop(i: number, from: Bytes, to: Bytes, step: Bytes, body: Bytes[]): Bytes[] {
  return [
    from, op.set(i),
    op.block, op.loop,
    op.get(i), to, op.i32GeS, op.brIf(1),
    ...body,
    op.get(i), step, op.i32Add, op.set(i),
    op.br(0),
    op.end, op.end,
  ];
}

/** `local += delta` */
export function addTo(local: number, delta: Bytes): Bytes {
  return [...op.get(local), ...delta, ...op.i32Add, ...op.set(local)];
}
