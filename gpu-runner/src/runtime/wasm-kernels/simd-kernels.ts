/**
 * Hand-written WebAssembly (SIMD where it pays) for the memory-bound loops of the training
 * kernels, run directly on tfjs-wasm's heap: the module imports the backend's own
 * WebAssembly.Memory, so tensors are addressed by their byte offsets with no copies, and heap
 * growth is seen automatically (it is the same Memory object).
 *
 * Why wasm rather than JS for these loops: JS cannot express 128-bit compares, selects and adds,
 * and its typed-array loops measured ~2.5 ns per element for the patch build, 3–5× this module's
 * scalar-wasm version (CPU time, tiny CNN shapes; per-kernel numbers are in each caller's header).
 *
 * All pointers are byte offsets into the heap. Callers guarantee bounds; wasm traps on an
 * out-of-memory access rather than corrupting anything outside the heap.
 */
import { type Bytes, type FunctionDef, I32, V128, addTo, assemble, forLoop, op } from '../../engine/wasm/wasm-asm.ts';

const { get, set, i32 } = op;

/**
 * One kernel tap (kh, kw) of the patch matrix, for output rows r0..r1 (r = n·outH + oh): for each
 * input channel ci, row k = k0 + ci gets x[n, oh·sH + offH, ow·sW + offW, ci] over m = (r, ow),
 * zero where the tap falls in the padding. `x` already points at column offset offW; [owLo, owHi)
 * is the range of ow whose column is inside the image.
 *
 * Row k starts at cols + (k >> sh)·rowBytes + (k & mask)·4 and its elements are `es` bytes apart,
 * which covers both layouts the filter gradient uses: plain rows (sh = 0, mask = 0, es = 4) and
 * panels of 4 rows interleaved per m (sh = 2, mask = 3, es = 16) for the SIMD GEMM below.
 */
const im2colTap: FunctionDef = (() => {
  const [x, cols, k0, sh, mask, rowBytes, es, inC, r0, r1, outH, outW, inH, sH, offH, owLo, owHi, sx, img, rowX] = Array.from({ length: 20 }, (_, i) => i);
  const [ci, r, d, s, n, oh, ih, end, k] = Array.from({ length: 9 }, (_, i) => 20 + i);
  /** Stores zeros to elements [d, end) with d advancing by es. */
  const zeros = (): Bytes[] => [
    op.block, op.loop,
    get(d), get(end), op.i32GeU, op.brIf(1),
    get(d), op.f32(0), op.f32Store(),
    addTo(d, get(es)),
    op.br(0),
    op.end, op.end,
  ];
  return {
    name: 'im2colTap',
    params: Array(20).fill(I32),
    locals: Array(9).fill(I32),
    body: forLoop(ci, i32(0), get(inC), i32(1), [
      get(k0), get(ci), op.i32Add, set(k),
      get(cols), get(k), get(sh), op.i32ShrU, get(rowBytes), op.i32Mul, op.i32Add,
      get(k), get(mask), op.i32And, i32(2), op.i32Shl, op.i32Add, set(d),
      get(r0), get(outH), op.i32DivU, set(n),
      get(r0), get(n), get(outH), op.i32Mul, op.i32Sub, set(oh),
      ...forLoop(r, get(r0), get(r1), i32(1), [
        get(oh), get(sH), op.i32Mul, get(offH), op.i32Add, set(ih),
        // Unsigned compare: a negative row is out of range too.
        get(ih), get(inH), op.i32GeU,
        op.if,
        get(d), get(outW), get(es), op.i32Mul, op.i32Add, set(end),
        ...zeros(),
        op.else,
        get(d), get(owLo), get(es), op.i32Mul, op.i32Add, set(end),
        ...zeros(),
        get(x), get(ci), i32(2), op.i32Shl, op.i32Add,
        get(n), get(img), op.i32Mul, op.i32Add,
        get(ih), get(rowX), op.i32Mul, op.i32Add,
        get(owLo), get(sx), op.i32Mul, op.i32Add, set(s),
        get(d), get(owHi), get(owLo), op.i32Sub, get(es), op.i32Mul, op.i32Add, set(end),
        op.block, op.loop,
        get(d), get(end), op.i32GeU, op.brIf(1),
        get(d), get(s), op.f32Load(), op.f32Store(),
        addTo(d, get(es)),
        addTo(s, get(sx)),
        op.br(0),
        op.end, op.end,
        get(d), get(outW), get(owHi), op.i32Sub, get(es), op.i32Mul, op.i32Add, set(end),
        ...zeros(),
        op.end,
        // Next output row: oh wraps into the next image.
        addTo(oh, i32(1)),
        get(oh), get(outH), op.i32Eq,
        op.if, i32(0), set(oh), addTo(n, i32(1)), op.end,
      ]),
    ]),
  };
})();

/**
 * dw[4p + i, c] += Σ_m a[p][m][i] · b[m, c] for `count` consecutive m, p < panels, c < co (a
 * multiple of 8): the filter-gradient GEMM on a patch matrix in 4-row panels. A 4×8 register
 * tile (8 accumulators) per (panel, 8 columns): per m one 128-bit load of the panel's 4 values,
 * each splatted by a shuffle, two loads of b, 8 multiplies and 8 adds. The caller keeps `count`
 * small enough for b's rows to stay in L2 across all the panels. No weight packing, unlike
 * XNNPACK's fully-connected operator, which repacks b (dy, the big operand here) on every call.
 */
const gemmPanels: FunctionDef = (() => {
  const [a, panelBytes, b, rowB, dw, panels, coBytes, count] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [p, c, ap, bp, end, t] = [8, 9, 10, 11, 12, 13];
  const acc = [14, 15, 16, 17, 18, 19, 20, 21];
  const [av, b0, b1, sv] = [22, 23, 24, 25];
  const lane = (i: number) => Array.from({ length: 16 }, (_, j) => 4 * i + (j % 4));
  // Address of dw row 4p + i, column c (t = dw + 4p·coBytes + c·4 is set per tile).
  const tileRow = (i: number): Bytes[] => [get(t), i32(i), get(coBytes), op.i32Mul, op.i32Add];
  return {
    name: 'gemmPanels',
    params: Array(8).fill(I32),
    locals: [...Array(6).fill(I32), ...Array(12).fill(V128)],
    body: forLoop(p, i32(0), get(panels), i32(1), forLoop(c, i32(0), get(coBytes), i32(32), [
      get(dw), get(p), i32(2), op.i32Shl, get(coBytes), op.i32Mul, op.i32Add, get(c), op.i32Add, set(t),
      ...[0, 1, 2, 3].flatMap((i) => [...tileRow(i), op.v128Load(0), set(acc[2 * i]), ...tileRow(i), op.v128Load(16), set(acc[2 * i + 1])]),
      get(a), get(p), get(panelBytes), op.i32Mul, op.i32Add, set(ap),
      get(b), get(c), op.i32Add, set(bp),
      get(ap), get(count), i32(4), op.i32Shl, op.i32Add, set(end),
      op.block, op.loop,
      get(ap), get(end), op.i32GeU, op.brIf(1),
      get(ap), op.v128Load(), set(av),
      get(bp), op.v128Load(0), set(b0),
      get(bp), op.v128Load(16), set(b1),
      ...[0, 1, 2, 3].flatMap((i) => [
        get(av), get(av), op.shuffle(lane(i)), set(sv),
        get(acc[2 * i]), get(sv), get(b0), op.f32x4Mul, op.f32x4Add, set(acc[2 * i]),
        get(acc[2 * i + 1]), get(sv), get(b1), op.f32x4Mul, op.f32x4Add, set(acc[2 * i + 1]),
      ]),
      addTo(ap, i32(16)),
      addTo(bp, get(rowB)),
      op.br(0),
      op.end, op.end,
      ...[0, 1, 2, 3].flatMap((i) => [...tileRow(i), get(acc[2 * i]), op.v128Store(0), ...tileRow(i), get(acc[2 * i + 1]), op.v128Store(16)]),
    ])),
  };
})();

/**
 * Max-pool gradient for non-overlapping windows (stride = window, no padding, no dilation) and
 * channels a multiple of 4. Per window and 4 channels: the first tap equal to the window's max
 * (taken from the forward output) receives dy, the others 0 — the cpu backend's rule. A max not
 * above -Infinity (or NaN) routes nothing, also like cpu. Every covered dx element is written, so
 * only rows/columns outside all windows need zeroing beforehand.
 */
const maxPoolGradTiled: FunctionDef = (() => {
  const [x, y, dy, dx, batch, outH, outW, c4, kH, kW, inH, inW] = Array.from({ length: 12 }, (_, i) => i);
  const [n, oh, ow, c, wh, ww, xb, yo, a, rowX] = Array.from({ length: 10 }, (_, i) => 12 + i);
  const [ymax, g, rem, m] = [22, 23, 24, 25];
  return {
    name: 'maxPoolGradTiled',
    params: Array(12).fill(I32),
    locals: [...Array(10).fill(I32), V128, V128, V128, V128],
    body: [
      get(inW), get(c4), op.i32Mul, set(rowX),
      i32(0), set(yo),
      ...forLoop(n, i32(0), get(batch), i32(1), forLoop(oh, i32(0), get(outH), i32(1), forLoop(ow, i32(0), get(outW), i32(1), [
        get(n), get(inH), op.i32Mul, get(oh), get(kH), op.i32Mul, op.i32Add, get(rowX), op.i32Mul,
        get(ow), get(kW), op.i32Mul, get(c4), op.i32Mul, op.i32Add, set(xb),
        ...forLoop(c, i32(0), get(c4), i32(16), [
          get(y), get(yo), op.i32Add, get(c), op.i32Add, op.v128Load(), set(ymax),
          get(dy), get(yo), op.i32Add, get(c), op.i32Add, op.v128Load(), set(g),
          get(ymax), op.f32(Number.NEGATIVE_INFINITY), op.f32x4Splat, op.f32x4Gt, set(rem),
          ...forLoop(wh, i32(0), get(kH), i32(1), forLoop(ww, i32(0), get(kW), i32(1), [
            get(xb), get(wh), get(rowX), op.i32Mul, op.i32Add, get(ww), get(c4), op.i32Mul, op.i32Add, get(c), op.i32Add, set(a),
            get(x), get(a), op.i32Add, op.v128Load(), get(ymax), op.f32x4Eq, get(rem), op.v128And, set(m),
            get(dx), get(a), op.i32Add, get(g), get(m), op.v128And, op.v128Store(),
            get(rem), get(m), op.v128AndNot, set(rem),
          ])),
        ]),
        addTo(yo, get(c4)),
      ]))),
    ],
  };
})();

/** out[c] = Σ_r x[r, c] over a row-major [rows, C] matrix, C a multiple of 4 (c4 = C·4 bytes). */
const columnSum: FunctionDef = (() => {
  const [x, out, rows, c4] = [0, 1, 2, 3];
  const [r, c, p] = [4, 5, 6];
  return {
    name: 'columnSum',
    params: Array(4).fill(I32),
    locals: Array(3).fill(I32),
    body: [
      ...forLoop(c, i32(0), get(c4), i32(16), [get(out), get(c), op.i32Add, op.f32(0), op.f32x4Splat, op.v128Store()]),
      get(x), set(p),
      ...forLoop(r, i32(0), get(rows), i32(1), [
        ...forLoop(c, i32(0), get(c4), i32(16), [
          get(out), get(c), op.i32Add,
          get(out), get(c), op.i32Add, op.v128Load(),
          get(p), get(c), op.i32Add, op.v128Load(),
          op.f32x4Add, op.v128Store(),
        ]),
        addTo(p, get(c4)),
      ]),
    ],
  };
})();

/** out[r, c] = x[r, c] + b[c] over [rows, C], C a multiple of 4 (c4 = C·4 bytes). */
const addRowVector: FunctionDef = (() => {
  const [x, b, out, rows, c4] = [0, 1, 2, 3, 4];
  const [r, c, p] = [5, 6, 7];
  return {
    name: 'addRowVector',
    params: Array(5).fill(I32),
    locals: Array(3).fill(I32),
    body: [
      i32(0), set(p),
      ...forLoop(r, i32(0), get(rows), i32(1), [
        ...forLoop(c, i32(0), get(c4), i32(16), [
          get(out), get(p), op.i32Add, get(c), op.i32Add,
          get(x), get(p), op.i32Add, get(c), op.i32Add, op.v128Load(),
          get(b), get(c), op.i32Add, op.v128Load(),
          op.f32x4Add, op.v128Store(),
        ]),
        addTo(p, get(c4)),
      ]),
    ],
  };
})();

/**
 * dst[c, r] = src[r, c] for a row-major [R, C] float matrix. Bands of 8 source rows: each column
 * step reads 8 floats from 8 cache lines that stay in L1 across the band and writes 8 contiguous
 * floats, instead of striding through all of src per output row.
 */
const transpose2d: FunctionDef = (() => {
  const [src, dst, rows, cols] = [0, 1, 2, 3];
  const [rb, c, s, d, end, rowBytes] = [4, 5, 6, 7, 8, 9];
  return {
    name: 'transpose2d',
    params: Array(4).fill(I32),
    locals: Array(6).fill(I32),
    body: [
      get(cols), i32(2), op.i32Shl, set(rowBytes),
      ...forLoop(rb, i32(0), get(rows), i32(8), forLoop(c, i32(0), get(cols), i32(1), [
        get(src), get(rb), get(rowBytes), op.i32Mul, op.i32Add, get(c), i32(2), op.i32Shl, op.i32Add, set(s),
        get(dst), get(c), get(rows), op.i32Mul, get(rb), op.i32Add, i32(2), op.i32Shl, op.i32Add, set(d),
        // end = d + 4·min(8, rows - rb)
        get(d),
        get(rows), get(rb), op.i32Sub, i32(8), i32(8), get(rows), get(rb), op.i32Sub, op.i32GtS, op.select,
        i32(2), op.i32Shl, op.i32Add, set(end),
        op.block, op.loop,
        get(d), get(end), op.i32GeU, op.brIf(1),
        get(d), get(s), op.f32Load(), op.f32Store(),
        addTo(d, i32(4)),
        addTo(s, get(rowBytes)),
        op.br(0),
        op.end, op.end,
      ])),
    ],
  };
})();

/**
 * dx[n, ih, iw, :] += dcols[(n, oh, ow), (kh, kw, :)] for every in-image tap (the col2im scatter of
 * a strided Conv2DBackpropInput), channels a multiple of 4 (c4 = C·4 bytes); dx must start zeroed.
 */
const col2imAdd: FunctionDef = (() => {
  const [dcols, dx, batch, outH, outW, inH, inW, c4, kH, kW, sH, sW, dH, dW, padT, padL] = Array.from({ length: 16 }, (_, i) => i);
  const [n, oh, ow, kh, kw, ih, iw, c, src, dst] = Array.from({ length: 10 }, (_, i) => 16 + i);
  return {
    name: 'col2imAdd',
    params: Array(16).fill(I32),
    locals: Array(10).fill(I32),
    body: [
      get(dcols), set(src),
      ...forLoop(n, i32(0), get(batch), i32(1), forLoop(oh, i32(0), get(outH), i32(1), forLoop(ow, i32(0), get(outW), i32(1),
        forLoop(kh, i32(0), get(kH), i32(1), [
          get(oh), get(sH), op.i32Mul, get(kh), get(dH), op.i32Mul, op.i32Add, get(padT), op.i32Sub, set(ih),
          get(ih), get(inH), op.i32GeU,
          op.if,
          // The whole row of taps is in the padding: skip its kW·C values.
          get(src), get(kW), get(c4), op.i32Mul, op.i32Add, set(src),
          op.else,
          ...forLoop(kw, i32(0), get(kW), i32(1), [
            get(ow), get(sW), op.i32Mul, get(kw), get(dW), op.i32Mul, op.i32Add, get(padL), op.i32Sub, set(iw),
            get(iw), get(inW), op.i32LtU,
            op.if,
            get(dx), get(n), get(inH), op.i32Mul, get(ih), op.i32Add, get(inW), op.i32Mul, get(iw), op.i32Add, get(c4), op.i32Mul, op.i32Add, set(dst),
            ...forLoop(c, i32(0), get(c4), i32(16), [
              get(dst), get(c), op.i32Add,
              get(dst), get(c), op.i32Add, op.v128Load(),
              get(src), get(c), op.i32Add, op.v128Load(),
              op.f32x4Add, op.v128Store(),
            ]),
            op.end,
            addTo(src, get(c4)),
          ]),
          op.end,
        ])))),
    ],
  };
})();

export interface SimdKernels {
  im2colTap(
    x: number, cols: number, k0: number, sh: number, mask: number, rowBytes: number, es: number, inC: number,
    r0: number, r1: number, outH: number, outW: number, inH: number, sH: number, offH: number, owLo: number,
    owHi: number, sx: number, img: number, rowX: number,
  ): void;
  gemmPanels(a: number, panelBytes: number, b: number, rowB: number, dw: number, panels: number, coBytes: number, count: number): void;
  maxPoolGradTiled(
    x: number, y: number, dy: number, dx: number, batch: number, outH: number, outW: number, c4: number,
    kH: number, kW: number, inH: number, inW: number,
  ): void;
  columnSum(x: number, out: number, rows: number, c4: number): void;
  addRowVector(x: number, b: number, out: number, rows: number, c4: number): void;
  transpose2d(src: number, dst: number, rows: number, cols: number): void;
  col2imAdd(
    dcols: number, dx: number, batch: number, outH: number, outW: number, inH: number, inW: number, c4: number,
    kH: number, kW: number, sH: number, sW: number, dH: number, dW: number, padT: number, padL: number,
  ): void;
}

/** A WebAssembly.Memory (opaque here). */
export type WasmMemory = object;

/** The few members of the WebAssembly JS API used here: the project's type libraries (no DOM)
 * do not declare them. */
interface WasmApi {
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => WasmMemory;
}
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const compiled = new WeakMap<FunctionDef[], object>();
const instances = new WeakMap<WasmMemory, Map<FunctionDef[], unknown>>();

/**
 * The functions of `defs` (one module, compiled once per list) bound to `memory`, one instance
 * per heap (one per tfjs-wasm backend, i.e. per thread).
 */
export function moduleFor<T>(defs: FunctionDef[], memory: WasmMemory): T {
  let perMemory = instances.get(memory);
  if (perMemory === undefined) instances.set(memory, (perMemory = new Map()));
  let k = perMemory.get(defs);
  if (k === undefined) {
    let module = compiled.get(defs);
    if (module === undefined) compiled.set(defs, (module = new wasmApi.Module(assemble(defs))));
    k = new wasmApi.Instance(module, { env: { memory } }).exports;
    perMemory.set(defs, k);
  }
  return k as T;
}

const SIMD_FUNCTIONS = [im2colTap, gemmPanels, maxPoolGradTiled, columnSum, addRowVector, transpose2d, col2imAdd];

/** The kernels bound to one heap (one per tfjs-wasm backend, i.e. per thread). */
export function simdKernelsFor(memory: WasmMemory): SimdKernels {
  return moduleFor<SimdKernels>(SIMD_FUNCTIONS, memory);
}
