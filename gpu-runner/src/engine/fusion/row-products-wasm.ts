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
 * float64 values, P, the rows' norms and a float32 scratch of at most twice
 * one operand's chunk, never a whole operand.
 */
import { type Bytes, type FunctionDef, I32, V128, assemble, op, uleb } from '../wasm/wasm-asm.ts';
import { relaxedSimdValidates } from '../wasm/relaxed-simd.ts';

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
  /** Relaxed SIMD f64x2.relaxed_madd(x, y, z) = x·y + z, fused or not at the engine's choice. */
  relaxedMadd: simd(0x107),
};

/**
 * panels(a, nA, b, nB, len, p, pStride, symmetric): for every pair of 4-row
 * panels (I, J) (J ≥ I when symmetric), P[4I + r, 4J + q] += Σ_c a[I][c][r]·b[J][c][q].
 * A panel is `len` groups of 4 float64 (one per row) at a + I·len·32; P is
 * float64 row-major with `pStride` bytes per row.
 *
 * The `madd` variant (panelsMadd) computes acc + x·y with relaxed_madd,
 * which may or may not round the product before adding. For values widened
 * from float32 both give the same bits: a product of two floats has at most
 * 48 significant bits, so it is exact in float64 and the only rounding is the
 * add's. V8 emits one FMA for it instead of a mul and an add, measured ~1.4×
 * faster here (ResNet34←ResNet18 ground metric and Grams). Float64 rows
 * (weights) never use it: their products do round.
 */
function panelsDef(madd: boolean): FunctionDef {
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
      ...(madd
        ? [
            get(x), get(y0), get(acc[2 * r]), f64x2.relaxedMadd, set(acc[2 * r]),
            get(x), get(y1), get(acc[2 * r + 1]), f64x2.relaxedMadd, set(acc[2 * r + 1]),
          ]
        : [
            get(acc[2 * r]), get(x), get(y0), f64x2.mul, f64x2.add, set(acc[2 * r]),
            get(acc[2 * r + 1]), get(x), get(y1), f64x2.mul, f64x2.add, set(acc[2 * r + 1]),
          ]),
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
    name: madd ? 'panelsMadd' : 'panels',
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I32, I32, ...new Array<typeof V128>(11).fill(V128)],
    body,
  };
}

/**
 * stage32(src, rowStride, run, runJump, first, panelCount, cols4, dst, len[, norms]):
 * float32 rows to float64 4-row panels, columns [0, cols4) (a multiple of 4):
 * dst[I][c][r] = row 4I + r's column c, a panel `len`·32 bytes. Row r starts
 * at src + r·rowStride (bytes); its values come in runs of `run` contiguous
 * floats, the next run `runJump` bytes after the end of the last, the first
 * run `first` values long (so a tap's channel rows are read in place; plain
 * rows have one long run). Runs and `first` are multiples of 4.
 *
 * The `norms` variant also adds every value's square to norms[row] (float64,
 * in column order, mul then add as JavaScript's `s += x * x`).
 *
 * Per 4 columns of 4 rows: four f32x4 loads, a 4×4 transpose by shuffles
 * into (row r, row r+1) lane pairs, eight exact promotions to f64, eight
 * stores.
 */
function stage32Def(withNorms: boolean): FunctionDef {
  const [src, rowStride, run, runJump, first, panelCount, cols4, dst, len, norms] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const L = withNorms ? 10 : 9;
  const [I, r0, r1, r2, r3, o, end, d, left] = Array.from({ length: 9 }, (_, k) => L + k);
  const [x0, x1, x2, x3, lo01, hi01, lo23, hi23, v, n01, n23] = Array.from({ length: 11 }, (_, k) => L + 9 + k);
  const { get, set, i32 } = op;
  const f32Lanes = (lanes: number[]): number[] => lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
  const promote = simd(0x5f); // f64x2.promote_low_f32x4
  const high = (x: number): Bytes => [...get(x), ...get(x), ...op.shuffle(f32Lanes([2, 3, 2, 3]))];
  /** Stores the promoted low pair of `value` at d + offset (and adds its squares to the pair's norms). */
  const store = (offset: number, value: Bytes, pairNorm: number): Bytes =>
    withNorms
      ? [
          ...value, ...promote, ...set(v),
          ...get(d), ...get(v), ...f64x2.store(offset),
          ...get(pairNorm), ...get(v), ...get(v), ...f64x2.mul, ...f64x2.add, ...set(pairNorm),
        ]
      : [...get(d), ...value, ...promote, ...f64x2.store(offset)];
  const body: Bytes[] = [
    i32(0), set(I),
    op.block, op.loop,
    get(I), get(panelCount), op.i32GeS, op.brIf(1),
    get(src), get(I), i32(4), op.i32Mul, get(rowStride), op.i32Mul, op.i32Add, op.tee(r0),
    get(rowStride), op.i32Add, op.tee(r1),
    get(rowStride), op.i32Add, op.tee(r2),
    get(rowStride), op.i32Add, set(r3),
    get(dst), get(I), get(len), op.i32Mul, i32(32), op.i32Mul, op.i32Add, op.tee(d),
    get(cols4), i32(32), op.i32Mul, op.i32Add, set(end),
    ...(withNorms
      ? [get(norms), get(I), i32(32), op.i32Mul, op.i32Add, f64x2.load(0), set(n01), get(norms), get(I), i32(32), op.i32Mul, op.i32Add, f64x2.load(16), set(n23)]
      : []),
    i32(0), set(o),
    get(first), set(left),
    op.block, op.loop,
    get(d), get(end), op.i32GeU, op.brIf(1),
    get(r0), get(o), op.i32Add, op.v128Load(), set(x0),
    get(r1), get(o), op.i32Add, op.v128Load(), set(x1),
    get(r2), get(o), op.i32Add, op.v128Load(), set(x2),
    get(r3), get(o), op.i32Add, op.v128Load(), set(x3),
    get(x0), get(x1), op.shuffle(f32Lanes([0, 4, 1, 5])), set(lo01),
    get(x0), get(x1), op.shuffle(f32Lanes([2, 6, 3, 7])), set(hi01),
    get(x2), get(x3), op.shuffle(f32Lanes([0, 4, 1, 5])), set(lo23),
    get(x2), get(x3), op.shuffle(f32Lanes([2, 6, 3, 7])), set(hi23),
    // Columns c, c+1, c+2, c+3 in order, so each row's norm adds its squares in column order.
    store(0, get(lo01), n01), store(16, get(lo23), n23),
    store(32, high(lo01), n01), store(48, high(lo23), n23),
    store(64, get(hi01), n01), store(80, get(hi23), n23),
    store(96, high(hi01), n01), store(112, high(hi23), n23),
    get(d), i32(128), op.i32Add, set(d),
    get(o), i32(16), op.i32Add, set(o),
    // End of a run: jump to the next.
    get(left), i32(4), op.i32Sub, op.tee(left),
    op.i32Eqz,
    op.if, get(o), get(runJump), op.i32Add, set(o), get(run), set(left), op.end,
    op.br(0),
    op.end, op.end,
    ...(withNorms
      ? [get(norms), get(I), i32(32), op.i32Mul, op.i32Add, get(n01), f64x2.store(0), get(norms), get(I), i32(32), op.i32Mul, op.i32Add, get(n23), f64x2.store(16)]
      : []),
    get(I), i32(1), op.i32Add, set(I),
    op.br(0),
    op.end, op.end,
  ];
  return {
    name: withNorms ? 'stage32Norms' : 'stage32',
    params: new Array<typeof I32>(L).fill(I32),
    locals: [...new Array<typeof I32>(9).fill(I32), ...new Array<typeof V128>(11).fill(V128)],
    body,
  };
}

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
  /** panels with relaxed_madd, for float32-sourced panels only; null where the runtime lacks relaxed SIMD. */
  panelsMadd: Kernel['panels'] | null;
  stage32: (src: number, rowStride: number, run: number, runJump: number, first: number, panelCount: number, cols4: number, dst: number, len: number) => void;
  stage32Norms: (
    src: number, rowStride: number, run: number, runJump: number, first: number, panelCount: number, cols4: number, dst: number, len: number, norms: number,
  ) => void;
}

let kernel: Kernel | null | undefined;

/** The compiled kernel, or null where WebAssembly SIMD is unavailable (the JS kernel is used then). */
export function wasmRowKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  if (wasmApi === undefined) return (kernel = null);
  try {
    const memory = new wasmApi.Memory({ initial: 1 });
    const module = new wasmApi.Module(assemble([panelsDef(false), stage32Def(false), stage32Def(true)]));
    const instance = new wasmApi.Instance(module, { env: { memory } });
    const fn = <K extends keyof Kernel>(name: K) => instance.exports[name] as Kernel[K];
    // Relaxed SIMD in a module of its own, so a runtime without it still gets the rest.
    const maddBytes = assemble([panelsDef(true)]);
    const panelsMadd = relaxedSimdValidates(maddBytes)
      ? (new wasmApi.Instance(new wasmApi.Module(maddBytes), { env: { memory } }).exports.panelsMadd as Kernel['panels'])
      : null;
    kernel = { memory, panels: fn('panels'), panelsMadd, stage32: fn('stage32'), stage32Norms: fn('stage32Norms') };
  } catch {
    kernel = null;
  }
  return kernel;
}

/**
 * Where row r, column c of a matrix sits in `data`:
 * r·rowStride + ⌊c/run⌋·runStride + (c mod run). A row-major matrix is
 * { rowStride: cols, run: cols }; a tap [t, C, S] read as channel rows
 * [C, S·t] is { rowStride: S, run: S, runStride: C·S }, read in place.
 */
export interface RowLayout {
  rowStride: number;
  run: number;
  runStride: number;
}

/** A matrix of `rows` rows of `cols` values, row-major unless `layout` says otherwise. */
export interface StagedSource {
  data: ArrayLike<number>;
  rows: number;
  cols: number;
  layout?: RowLayout;
}

export interface WasmRowProducts {
  /** P = A·Bᵀ, n×m row-major. */
  products: Float64Array;
  /** With `norms`: Σ_c a[i, c]² per row, summed in column order (as `s += x * x`). */
  normsA: Float64Array | null;
  normsB: Float64Array | null;
}

const PAGE = 65536;
/** A run longer than any row: plain rows are one run. */
const ONE_RUN = 1 << 30;

/**
 * P = A·Bᵀ (n×m, float64) with the wasm kernel; `symmetric` computes the
 * upper triangle of blocks and mirrors it. Same contract and same bits as
 * row-products.ts rowProductsJs; with `norms` (not symmetric) also the rows'
 * squared norms, read off the staged values. Without `products` only A is
 * staged, for its norms (P is then all zeros).
 *
 * Float32 rows are staged in two steps per chunk: JavaScript copies the
 * chunk's values into a float32 scratch area of the wasm memory, and
 * stage32 widens and interleaves them into panels. When a layout packs the
 * chunk's values of all rows densely (a tap's channel rows: a chunk of 2048
 * columns is 2048/S samples of every channel, one contiguous block) the block
 * is copied at once and stage32 walks the layout; otherwise each row's
 * segment is copied into a plain row. Rows past the last full 4-row panel,
 * and the columns past the last multiple of 4, are staged by JavaScript.
 * Other element types take the plain JavaScript staging.
 */
export function rowProductsWasm(k: Kernel, a: StagedSource, b: StagedSource, symmetric: boolean, norms = false, products = true): WasmRowProducts {
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
  const withNorms = norms && !symmetric;
  const nBytes = withNorms ? (nA + nB) * 32 : 0;
  // Float32 scratch: twice the larger operand's padded rows × chunk (a dense block may hold gaps).
  const scratchStride = Math.ceil(chunk / 4) * 4;
  const wide = a.data instanceof Float32Array && (symmetric || b.data instanceof Float32Array);
  const scratchBytes = wide ? 2 * Math.max(nA, symmetric ? 0 : nB) * 4 * scratchStride * 4 : 0;
  const need = aBytes + bBytes + pBytes + nBytes + scratchBytes;
  if (k.memory.buffer.byteLength < need) k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / PAGE));
  const heap = new Float64Array(k.memory.buffer);
  const aOff = 0;
  const bOff = symmetric ? aOff : aBytes;
  const pOff = aBytes + bBytes;
  const nAOff = pOff + pBytes;
  const nBOff = nAOff + nA * 32;
  const sOff = pOff + pBytes + nBytes;
  const scratch = new Float32Array(k.memory.buffer, sOff, scratchBytes / 4);
  heap.fill(0, pOff / 8, (pOff + pBytes + nBytes) / 8);
  // Panels widened from float32 hold exact products, so the fused multiply-add gives the same bits.
  const kernelFor = (wide && k.panelsMadd) || k.panels;
  const stageOperand = (src: StagedSource, c0: number, len: number, at: number, panelCount: number, normsAt: number) => {
    if (!wide) return stage(src, c0, len, heap, at / 8, panelCount, withNorms ? normsAt / 8 : -1);
    const data = src.data as Float32Array;
    const full = Math.floor(src.rows / 4);
    const cols4 = len & ~3;
    if (full > 0 && cols4 > 0) {
      const l = src.layout;
      const region = l && l.run % 4 === 0 ? [index(src, 0, c0), index(src, 4 * full - 1, c0 + len - 1) + 1] : null;
      let args: [number, number, number, number, number];
      if (l && region && region[1] - region[0] <= scratch.length) {
        scratch.set(data.subarray(region[0], region[1]));
        args = [sOff, l.rowStride * 4, l.run, (l.runStride - l.run) * 4, l.run - (c0 % l.run)];
      } else {
        gather(src, c0, len, 4 * full, scratch, scratchStride);
        args = [sOff, scratchStride * 4, ONE_RUN, 0, ONE_RUN];
      }
      if (withNorms) k.stage32Norms(...args, full, cols4, at, len, normsAt);
      else k.stage32(...args, full, cols4, at, len);
    }
    // What stage32 left: the last columns of full panels, then the rows of a partial panel (zeros past the last row).
    const put = (r: number, cFrom: number) => {
      let d = at / 8 + Math.floor(r / 4) * len * 4 + (r % 4) + cFrom * 4;
      if (r >= src.rows) {
        for (let c = cFrom; c < len; c++, d += 4) heap[d] = 0;
        return;
      }
      let s = withNorms ? heap[normsAt / 8 + r] : 0;
      for (let c = cFrom; c < len; c++, d += 4) {
        const x = data[index(src, r, c0 + c)];
        heap[d] = x;
        s += x * x;
      }
      if (withNorms) heap[normsAt / 8 + r] = s;
    };
    for (let r = 0; r < 4 * full; r++) if (cols4 < len) put(r, cols4);
    for (let r = 4 * full; r < 4 * panelCount; r++) put(r, 0);
  };
  for (let c0 = 0; c0 < p; c0 += CHUNK) {
    const len = Math.min(p, c0 + CHUNK) - c0;
    stageOperand(a, c0, len, aOff, nA, nAOff);
    if (!products) continue; // only A's norms are asked for
    if (!symmetric) stageOperand(b, c0, len, bOff, nB, nBOff);
    kernelFor(aOff, nA, bOff, nB, len, pOff, pStride, symmetric ? 1 : 0);
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
  return {
    products: P,
    normsA: withNorms ? heap.slice(nAOff / 8, nAOff / 8 + n) : null,
    normsB: withNorms && products ? heap.slice(nBOff / 8, nBOff / 8 + m) : null,
  };
}

/** The index of row r's column c in src.data. */
function index(src: StagedSource, r: number, c: number): number {
  const l = src.layout;
  if (!l) return r * src.cols + c;
  const q = Math.floor(c / l.run);
  return r * l.rowStride + q * l.runStride + (c - q * l.run);
}

/**
 * Columns [c0, c0 + len) of rows [0, rows) into `out` (row r at r·stride).
 * Contiguous runs are bulk-copied; short runs (a dense layer's neuron rows
 * have runs of 1) are copied element by element.
 */
function gather(src: StagedSource, c0: number, len: number, rows: number, out: Float32Array, stride: number): void {
  const data = src.data as Float32Array;
  const run = src.layout?.run ?? src.cols;
  for (let r = 0; r < rows; r++) {
    const o = r * stride;
    if (run < 16) {
      for (let c = 0; c < len; c++) out[o + c] = data[index(src, r, c0 + c)];
      continue;
    }
    for (let c = c0; c < c0 + len; ) {
      const n = Math.min(run - (c % run), c0 + len - c);
      const s = index(src, r, c);
      out.set(data.subarray(s, s + n), o + c - c0);
      c += n;
    }
  }
}

/**
 * Columns [c0, c0 + len) of every row into 4-row panels, [panel][c][row in
 * panel]; padding rows are 0. With `norms` ≥ 0, heap[norms + r] += each
 * value's square, in column order.
 */
function stage(src: StagedSource, c0: number, len: number, heap: Float64Array, at: number, panelCount: number, norms: number): void {
  const { data, rows } = src;
  for (let r = 0; r < panelCount * 4; r++) {
    let d = at + Math.floor(r / 4) * len * 4 + (r % 4);
    if (r >= rows) {
      for (let c = 0; c < len; c++, d += 4) heap[d] = 0;
      continue;
    }
    let s = norms >= 0 ? heap[norms + r] : 0;
    for (let c = 0; c < len; c++, d += 4) {
      const x = data[index(src, r, c0 + c)];
      heap[d] = x;
      s += x * x;
    }
    if (norms >= 0) heap[norms + r] = s;
  }
}
