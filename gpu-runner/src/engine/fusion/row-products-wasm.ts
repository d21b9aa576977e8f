/**
 * The row-product kernel P = A·Bᵀ of row-products.ts in WebAssembly SIMD,
 * bit-identical to the JavaScript one.
 *
 * Why it is bit-identical: every entry P[i, j] is still built as in
 * row-products.ts, chunk by chunk of the shared dimension (CHUNK values),
 * each chunk's partial sum s = Σ x·y accumulated from +0 in increasing c and
 * then added to P[i, j]. SIMD only puts two *different* entries (j, j+1) in
 * the two lanes of an f64x2, so no entry's additions are reordered, and wasm's
 * f64 add and mul are the IEEE round-to-nearest operations JavaScript uses.
 * Inputs are widened to float64 while staged, exactly as JavaScript widens a
 * Float32Array element.
 *
 * Why it is faster: the JS kernel runs about one multiply-add per cycle; here
 * each f64x2 op does two, the values are staged once per chunk into 4-row
 * panels interleaved by column, so a 4×4 block reads one contiguous stream
 * per operand, and there are no bounds checks. Measured on the 2-core bench
 * machine for the ResNet34←ResNet18 products: see README "Benchmarks".
 *
 * Staging is per chunk, so the wasm memory holds (rows(A) + rows(B))·CHUNK
 * float64 values plus P, never a whole operand.
 */
import { type Bytes, type FunctionDef, I32, V128, assemble, op, uleb } from '../wasm/wasm-asm.ts';

/** The chunk length of the shared dimension; must equal row-products.ts's. */
export const CHUNK = 2048;

const simd = (code: number): Bytes => [0xfd, ...uleb(code)];
/** memarg with 8-byte alignment hint. */
const mem8 = (offset: number): Bytes => [3, ...uleb(offset)];
const f64x2 = {
  load: (offset: number): Bytes => [...simd(0x00), ...mem8(offset)],
  loadSplat: (offset: number): Bytes => [...simd(0x0a), ...mem8(offset)],
  store: (offset: number): Bytes => [...simd(0x0b), ...mem8(offset)],
  zero: [...simd(0x0c), ...new Array<number>(16).fill(0)] as Bytes,
  add: simd(0xf0),
  mul: simd(0xf2),
};

/**
 * panels(a, nA, b, nB, len, p, pStride, symmetric): for every pair of 4-row
 * panels (I, J) (J ≥ I when symmetric), P[4I + r, 4J + q] += Σ_c a[I][c][r]·b[J][c][q].
 * A panel is `len` groups of 4 float64 (one per row) at a + I·len·32; P is
 * float64 row-major with `pStride` bytes per row.
 */
const panels: FunctionDef = (() => {
  const [a, nA, b, nB, len, p, pStride, sym] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [I, J, ap, bp, aEnd, panelBytes, pRow] = [8, 9, 10, 11, 12, 13, 14];
  const acc = [15, 16, 17, 18, 19, 20, 21, 22]; // acc[2r + h]: row r, columns 2h, 2h+1
  const [x, y0, y1] = [23, 24, 25];
  const { get, set, i32 } = op;
  const body: Bytes[] = [
    get(len), i32(32), op.i32Mul, set(panelBytes),
    i32(0), set(I),
    op.block, op.loop,
    get(I), get(nA), op.i32GeS, op.brIf(1),
    // J starts at I for a symmetric product, else at 0.
    get(I), i32(0), get(sym), op.select, set(J),
    op.block, op.loop,
    get(J), get(nB), op.i32GeS, op.brIf(1),
    ...acc.map((k) => [...f64x2.zero, ...set(k)]),
    get(a), get(I), get(panelBytes), op.i32Mul, op.i32Add, op.tee(ap),
    get(panelBytes), op.i32Add, set(aEnd),
    get(b), get(J), get(panelBytes), op.i32Mul, op.i32Add, set(bp),
    op.block, op.loop,
    get(ap), get(aEnd), op.i32GeU, op.brIf(1),
    get(bp), f64x2.load(0), set(y0),
    get(bp), f64x2.load(16), set(y1),
    ...[0, 1, 2, 3].flatMap((r) => [
      get(ap), f64x2.loadSplat(8 * r), set(x),
      get(acc[2 * r]), get(x), get(y0), f64x2.mul, f64x2.add, set(acc[2 * r]),
      get(acc[2 * r + 1]), get(x), get(y1), f64x2.mul, f64x2.add, set(acc[2 * r + 1]),
    ]),
    get(ap), i32(32), op.i32Add, set(ap),
    get(bp), i32(32), op.i32Add, set(bp),
    op.br(0),
    op.end, op.end,
    // P rows 4I..4I+3, columns 4J..4J+3: P += acc.
    get(p), get(I), i32(4), op.i32Mul, get(pStride), op.i32Mul, op.i32Add, get(J), i32(32), op.i32Mul, op.i32Add, set(pRow),
    ...[0, 1, 2, 3].flatMap((r) => [
      get(pRow), get(pRow), f64x2.load(0), get(acc[2 * r]), f64x2.add, f64x2.store(0),
      get(pRow), get(pRow), f64x2.load(16), get(acc[2 * r + 1]), f64x2.add, f64x2.store(16),
      get(pRow), get(pStride), op.i32Add, set(pRow),
    ]),
    get(J), i32(1), op.i32Add, set(J),
    op.br(0),
    op.end, op.end,
    get(I), i32(1), op.i32Add, set(I),
    op.br(0),
    op.end, op.end,
  ];
  return {
    name: 'panels',
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I32, I32, ...new Array<typeof V128>(11).fill(V128)],
    body,
  };
})();

/** The few members of the WebAssembly JS API used here (the project's type libraries have no DOM). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

interface Kernel {
  memory: WasmMemory;
  panels: (a: number, nA: number, b: number, nB: number, len: number, p: number, pStride: number, sym: number) => void;
}

let kernel: Kernel | null | undefined;

/** The compiled kernel, or null where WebAssembly SIMD is unavailable (the JS kernel is used then). */
export function wasmRowKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  if (wasmApi === undefined) return (kernel = null);
  try {
    const memory = new wasmApi.Memory({ initial: 1 });
    const module = new wasmApi.Module(assemble([panels]));
    const instance = new wasmApi.Instance(module, { env: { memory } });
    kernel = { memory, panels: instance.exports.panels as Kernel['panels'] };
  } catch {
    kernel = null;
  }
  return kernel;
}

/** A row-major matrix whose rows are read through `at(row, col)`-style index arithmetic. */
export interface StagedSource {
  data: ArrayLike<number>;
  rows: number;
  cols: number;
}

const PAGE = 65536;

/**
 * P = A·Bᵀ (n×m, float64) with the wasm kernel; `symmetric` computes the
 * upper triangle of blocks and mirrors it. Same contract and same bits as
 * row-products.ts rowProductsJs.
 */
export function rowProductsWasm(k: Kernel, a: StagedSource, b: StagedSource, symmetric: boolean): Float64Array {
  const n = a.rows;
  const m = b.rows;
  const p = a.cols;
  const nA = Math.ceil(n / 4);
  const nB = Math.ceil(m / 4);
  const chunk = Math.min(CHUNK, p);
  const aBytes = nA * chunk * 32;
  const bBytes = symmetric ? 0 : nB * chunk * 32;
  const pStride = nB * 32;
  const pBytes = nA * 4 * pStride;
  const need = aBytes + bBytes + pBytes;
  if (k.memory.buffer.byteLength < need) k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / PAGE));
  const heap = new Float64Array(k.memory.buffer);
  const aOff = 0;
  const bOff = symmetric ? aOff : aBytes;
  const pOff = aBytes + bBytes;
  heap.fill(0, pOff / 8, (pOff + pBytes) / 8);
  for (let c0 = 0; c0 < p; c0 += CHUNK) {
    const len = Math.min(p, c0 + CHUNK) - c0;
    stage(a, c0, len, heap, aOff / 8, nA);
    if (!symmetric) stage(b, c0, len, heap, bOff / 8, nB);
    k.panels(aOff, nA, bOff, nB, len, pOff, pStride, symmetric ? 1 : 0);
  }
  const P = new Float64Array(n * m);
  const mPad = nB * 4;
  const p0 = pOff / 8;
  for (let i = 0; i < n; i++) {
    if (symmetric) {
      // Entries left of the diagonal block were not computed: mirror the upper triangle.
      for (let j = i; j < m; j++) P[i * m + j] = heap[p0 + i * mPad + j];
    } else {
      P.set(heap.subarray(p0 + i * mPad, p0 + i * mPad + m), i * m);
    }
  }
  if (symmetric) for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) P[i * m + j] = P[j * m + i];
  return P;
}

/** Columns [c0, c0 + len) of every row into 4-row panels, [panel][c][row in panel]; padding rows are 0. */
function stage(src: StagedSource, c0: number, len: number, heap: Float64Array, at: number, panelCount: number): void {
  const { data, rows, cols } = src;
  for (let r = 0; r < panelCount * 4; r++) {
    let d = at + Math.floor(r / 4) * len * 4 + (r % 4);
    if (r >= rows) {
      for (let c = 0; c < len; c++, d += 4) heap[d] = 0;
      continue;
    }
    const s = r * cols + c0;
    for (let c = 0; c < len; c++, d += 4) heap[d] = data[s + c];
  }
}
