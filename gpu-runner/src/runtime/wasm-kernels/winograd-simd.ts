/**
 * The WebAssembly SIMD half of the Winograd F(2×2, 3×3) convolutions (winograd.ts has the plan and
 * the math): the tile transforms (input, output, output gradient), the filter transform and its
 * adjoint, and the small GEMM they feed, run on tfjs-wasm's heap like the other hand-written
 * kernels (simd-kernels.ts).
 *
 * Every transform works on NHWC data, so a pixel's channels are contiguous and each instruction
 * handles 4 channels of one tile position: the transforms are only additions and subtractions,
 * lane-wise. The 16 transformed values of a tile go to 16 separate matrices, one per position
 * ξ = 4·row + column of the 4×4 Winograd domain, `stride` bytes apart, row t (the tile) of each.
 */
import { type Bytes, type FunctionDef, I32, V128, addTo, forLoop, op } from '../../engine/wasm/wasm-asm.ts';

const { get, set, i32 } = op;

/** Bᵀ applied to four values (a 4-point input transform): [a0 − a2, a1 + a2, a2 − a1, a1 − a3]. */
const inputCombos: Array<(a: number[]) => Bytes[]> = [
  (a) => [get(a[0]), get(a[2]), op.f32x4Sub],
  (a) => [get(a[1]), get(a[2]), op.f32x4Add],
  (a) => [get(a[2]), get(a[1]), op.f32x4Sub],
  (a) => [get(a[1]), get(a[3]), op.f32x4Sub],
];

/**
 * V[ξ][t0 + tw][c] = (Bᵀ d B)[ξ] for the tiles tw < tW of one tile row, d the 4×4 input patch at
 * rows ih0…ih0+3 and columns 2·tw − padL…, zero outside the image. The four input rows are first
 * copied into `scratch` (wp pixels wide, its border columns zero and kept zero by the caller), so
 * the transform itself never tests a bound.
 */
const wgInput: FunctionDef = (() => {
  const [x, ih0, inH, inW, c4, padL, wp, tW, scratch, v, vStride, t0] = Array.from({ length: 12 }, (_, i) => i);
  const [i, ih, rowBytes, sRow, tw, base, c, q, p, c8, c12] = Array.from({ length: 11 }, (_, k) => 12 + k);
  const d = [23, 24, 25, 26];
  const w = Array.from({ length: 16 }, (_, k) => 27 + k); // w[4·r + j]: row r after the column transform
  const colOffset = [[], [get(c4), op.i32Add], [get(c8), op.i32Add], [get(c12), op.i32Add]];
  return {
    name: 'wgInput',
    params: Array(12).fill(I32),
    locals: [...Array(11).fill(I32), ...Array(20).fill(V128)],
    body: [
      get(inW), get(c4), op.i32Mul, set(rowBytes),
      get(wp), get(c4), op.i32Mul, set(sRow),
      get(c4), i32(1), op.i32Shl, set(c8),
      get(c8), get(c4), op.i32Add, set(c12),
      ...forLoop(i, i32(0), i32(4), i32(1), [
        get(ih0), get(i), op.i32Add, set(ih),
        get(scratch), get(i), get(sRow), op.i32Mul, op.i32Add, set(q),
        // Unsigned compare: a negative row is outside the image too.
        get(ih), get(inH), op.i32LtU,
        op.if,
        get(q), get(padL), get(c4), op.i32Mul, op.i32Add,
        get(x), get(ih), get(rowBytes), op.i32Mul, op.i32Add,
        get(rowBytes), op.memoryCopy,
        op.else,
        get(q), i32(0), get(sRow), op.memoryFill,
        op.end,
      ]),
      ...forLoop(tw, i32(0), get(tW), i32(1), [
        // p walks the 16 destination matrices in ξ order; q walks the patch's rows.
        get(v), get(t0), get(tw), op.i32Add, get(c4), op.i32Mul, op.i32Add, set(p),
        get(scratch), get(tw), get(c8), op.i32Mul, op.i32Add, set(base),
        ...forLoop(c, i32(0), get(c4), i32(16), [
          get(base), get(c), op.i32Add, set(q),
          ...[0, 1, 2, 3].flatMap((r) => [
            ...(r === 0 ? [] : [addTo(q, get(sRow))]),
            ...[0, 1, 2, 3].flatMap((j) => [get(q), ...colOffset[j], op.v128Load(), set(d[j])]),
            ...inputCombos.flatMap((combo, j) => [...combo(d), set(w[4 * r + j])]),
          ]),
          get(p), get(c), op.i32Add, set(q),
          ...[0, 1, 2, 3].flatMap((row) =>
            [0, 1, 2, 3].flatMap((j) => [
              ...(row === 0 && j === 0 ? [] : [addTo(q, get(vStride))]),
              get(q), ...inputCombos[row]([0, 1, 2, 3].map((r) => w[4 * r + j])), op.v128Store(),
            ]),
          ),
        ]),
      ]),
    ],
  };
})();

/**
 * y = Aᵀ m A for the tiles tw < tW of one tile row: the 2×2 outputs of tile t0 + tw from its 16
 * values m[ξ][t][k], written at y + 2·tw·k4 (this output row) and y + rowBytes (the next one).
 * Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]].
 */
const wgOutput: FunctionDef = (() => {
  const [m, mStride, t0, y, rowBytes, tW, k4] = Array.from({ length: 7 }, (_, i) => i);
  const [tw, k, p, q, o, rowStride] = Array.from({ length: 6 }, (_, i) => 7 + i);
  const mv = [13, 14, 15, 16];
  const s = Array.from({ length: 8 }, (_, i) => 17 + i); // s[4·row + j]
  const outRow = (a: number[]): Bytes[][] => [
    [get(a[0]), get(a[1]), op.f32x4Add, get(a[2]), op.f32x4Add],
    [get(a[1]), get(a[2]), op.f32x4Sub, get(a[3]), op.f32x4Sub],
  ];
  return {
    name: 'wgOutput',
    params: Array(7).fill(I32),
    locals: [...Array(6).fill(I32), ...Array(12).fill(V128)],
    body: [
      get(mStride), i32(2), op.i32Shl, set(rowStride),
      ...forLoop(tw, i32(0), get(tW), i32(1), [
        ...forLoop(k, i32(0), get(k4), i32(16), [
          get(m), get(t0), get(tw), op.i32Add, get(k4), op.i32Mul, op.i32Add, get(k), op.i32Add, set(p),
          // Column j of the 4×4 tile: m[4·r + j] for r = 0…3, each 4·mStride further on.
          ...[0, 1, 2, 3].flatMap((j) => [
            get(p), ...(j === 0 ? [] : [i32(j), get(mStride), op.i32Mul, op.i32Add]), set(q),
            ...[0, 1, 2, 3].flatMap((r) => [get(q), ...(r === 0 ? [] : [i32(r), get(rowStride), op.i32Mul, op.i32Add]), op.v128Load(), set(mv[r])]),
            ...outRow(mv).flatMap((combo, row) => [...combo, set(s[4 * row + j])]),
          ]),
          get(y), get(tw), get(k4), op.i32Mul, i32(1), op.i32Shl, op.i32Add, get(k), op.i32Add, set(o),
          ...[0, 1].flatMap((row) => {
            const [c0, c1] = outRow([0, 1, 2, 3].map((j) => s[4 * row + j]));
            const at = row === 0 ? [get(o)] : [get(o), get(rowBytes), op.i32Add];
            return [...at, ...c0, op.v128Store(), ...at, get(k4), op.i32Add, ...c1, op.v128Store()];
          }),
        ]),
      ]),
    ],
  };
})();

/**
 * The output gradient in the Winograd domain, A·dy·Aᵀ, for the tiles tw < tW of one tile row: the
 * 2×2 gradient at dy + 2·tw·k4 (this row) and dy + rowBytes (the next) becomes 16 values,
 * out[ξ][t0 + tw][k], ξ in order, oStride bytes apart. A = [[1, 0], [1, 1], [1, −1], [0, −1]].
 */
const wgGradOut: FunctionDef = (() => {
  const [dy, rowBytes, tW, k4, out, oStride, t0] = Array.from({ length: 7 }, (_, i) => i);
  const [tw, k, a, p] = Array.from({ length: 4 }, (_, i) => 7 + i);
  const dv = [11, 12, 13, 14]; // d[2·row + col]
  const r = Array.from({ length: 8 }, (_, i) => 15 + i); // r[2·i + col] = (A·d)[i][col]
  const spread = (a0: number, a1: number): Bytes[][] => [
    [get(a0)],
    [get(a0), get(a1), op.f32x4Add],
    [get(a0), get(a1), op.f32x4Sub],
    [get(a1), op.f32x4Neg],
  ];
  return {
    name: 'wgGradOut',
    params: Array(7).fill(I32),
    locals: [...Array(4).fill(I32), ...Array(12).fill(V128)],
    body: forLoop(tw, i32(0), get(tW), i32(1), forLoop(k, i32(0), get(k4), i32(16), [
      get(dy), get(tw), get(k4), op.i32Mul, i32(1), op.i32Shl, op.i32Add, get(k), op.i32Add, set(a),
      get(a), op.v128Load(), set(dv[0]),
      get(a), get(k4), op.i32Add, op.v128Load(), set(dv[1]),
      get(a), get(rowBytes), op.i32Add, op.v128Load(), set(dv[2]),
      get(a), get(rowBytes), op.i32Add, get(k4), op.i32Add, op.v128Load(), set(dv[3]),
      ...[0, 1].flatMap((col) => spread(dv[col], dv[2 + col]).flatMap((combo, i) => [...combo, set(r[2 * i + col])])),
      get(out), get(t0), get(tw), op.i32Add, get(k4), op.i32Mul, op.i32Add, get(k), op.i32Add, set(p),
      ...[0, 1, 2, 3].flatMap((i) =>
        spread(r[2 * i], r[2 * i + 1]).flatMap((combo) => [get(p), ...combo, op.v128Store(), addTo(p, get(oStride))]),
      ),
    ])),
  };
})();

/**
 * U[ξ] = (G g Gᵀ)[ξ] for every (c, k) of a 3×3 filter g[kh][kw][c][k], four at a time: the nine
 * taps are planes of ck4 bytes, the 16 results planes `uStride` bytes apart.
 * G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
 */
const wgFilter: FunctionDef = (() => {
  const [g, u, ck4, uStride] = [0, 1, 2, 3];
  const [e, p] = [4, 5];
  const tap = Array.from({ length: 9 }, (_, i) => 6 + i); // tap[3·a + b]
  const [half, t0, t1, t2] = [15, 16, 17, 18];
  const halfOf = (x: Bytes[]): Bytes[] => [...x, get(half), op.f32x4Mul];
  // One row of G·g (three values along b) times Gᵀ: four stores, p advancing by uStride.
  const rowTimesGt = (x: number[]): Bytes[] =>
    [
      [get(x[0])],
      halfOf([get(x[0]), get(x[1]), op.f32x4Add, get(x[2]), op.f32x4Add]),
      halfOf([get(x[0]), get(x[1]), op.f32x4Sub, get(x[2]), op.f32x4Add]),
      [get(x[2])],
    ].flatMap((value) => [get(p), ...value, op.v128Store(), addTo(p, get(uStride))]);
  return {
    name: 'wgFilter',
    params: Array(4).fill(I32),
    locals: [I32, I32, ...Array(13).fill(V128)],
    body: [
      op.f32(0.5), op.f32x4Splat, set(half),
      ...forLoop(e, i32(0), get(ck4), i32(16), [
        ...tap.flatMap((t, i) => [get(g), get(e), op.i32Add, ...(i === 0 ? [] : [i32(i), get(ck4), op.i32Mul, op.i32Add]), op.v128Load(), set(t)]),
        get(u), get(e), op.i32Add, set(p),
        ...rowTimesGt([tap[0], tap[1], tap[2]]),
        ...[0, 1, 2].flatMap((b) => [...halfOf([get(tap[b]), get(tap[3 + b]), op.f32x4Add, get(tap[6 + b]), op.f32x4Add]), set([t0, t1, t2][b])]),
        ...rowTimesGt([t0, t1, t2]),
        ...[0, 1, 2].flatMap((b) => [...halfOf([get(tap[b]), get(tap[3 + b]), op.f32x4Sub, get(tap[6 + b]), op.f32x4Add]), set([t0, t1, t2][b])]),
        ...rowTimesGt([t0, t1, t2]),
        ...rowTimesGt([tap[6], tap[7], tap[8]]),
      ]),
    ],
  };
})();

/**
 * dg[kh][kw] = (Gᵀ m G)[kh][kw], the adjoint of wgFilter: 16 planes m[ξ] `mStride` bytes apart in,
 * nine planes of ck4 bytes out, four (c, k) at a time. Gᵀ's rows on four values x0…x3:
 * x0 + ½(x1 + x2), ½(x1 − x2), ½(x1 + x2) + x3.
 */
const wgFilterGrad: FunctionDef = (() => {
  const [m, mStride, dg, ck4] = [0, 1, 2, 3];
  const [e, p] = [4, 5];
  const x = [6, 7, 8, 9];
  const q = Array.from({ length: 12 }, (_, i) => 10 + i); // q[4·a + j] = (Gᵀ m)[a][j]
  const half = 22;
  const gt = (v: number[]): Bytes[][] => [
    [get(v[1]), get(v[2]), op.f32x4Add, get(half), op.f32x4Mul, get(v[0]), op.f32x4Add],
    [get(v[1]), get(v[2]), op.f32x4Sub, get(half), op.f32x4Mul],
    [get(v[1]), get(v[2]), op.f32x4Add, get(half), op.f32x4Mul, get(v[3]), op.f32x4Add],
  ];
  return {
    name: 'wgFilterGrad',
    params: Array(4).fill(I32),
    locals: [I32, I32, ...Array(17).fill(V128)],
    body: [
      op.f32(0.5), op.f32x4Splat, set(half),
      ...forLoop(e, i32(0), get(ck4), i32(16), [
        ...[0, 1, 2, 3].flatMap((j) => [
          ...[0, 1, 2, 3].flatMap((i) => [get(m), get(e), op.i32Add, i32(4 * i + j), get(mStride), op.i32Mul, op.i32Add, op.v128Load(), set(x[i])]),
          ...gt(x).flatMap((value, a) => [...value, set(q[4 * a + j])]),
        ]),
        get(dg), get(e), op.i32Add, set(p),
        ...[0, 1, 2].flatMap((a) =>
          gt([0, 1, 2, 3].map((j) => q[4 * a + j])).flatMap((value) => [get(p), ...value, op.v128Store(), addTo(p, get(ck4))]),
        ),
      ]),
    ],
  };
})();

/** f32x4.relaxed_madd(a, b, c) = a·b + c, fused or not at the engine's choice (relaxed SIMD). */
const f32x4RelaxedMadd: Bytes = [0xfd, 0x85, 0x02];

/**
 * out[i, j] (+)= Σ_r A(i, r) · b[r, j] for i < rows (a multiple of 4) and j < colsBytes / 4 (a
 * multiple of 8), A(i, r) at a + i·aIS + r·aRS bytes — any layout, so the same kernel serves V·U
 * (A = V by rows) and Vᵀ·dY (A = V by columns). A 4×8 register tile: per r, two loads of b, four
 * broadcast loads of A and eight multiply-adds; `accumulate` 0 starts from zero instead of out.
 * `madd` builds the variant with relaxed SIMD's multiply-add (one FMA per product-and-sum where
 * the CPU has it).
 */
function gemmSplat(madd: boolean): FunctionDef {
  const [a, aIS, aRS, b, bRow, out, outRow, rows, colsBytes, depth, accumulate] = Array.from({ length: 11 }, (_, i) => i);
  const [i0, j, o, ap, bp, r, aIS2, aIS3] = Array.from({ length: 8 }, (_, i) => 11 + i);
  const acc = Array.from({ length: 8 }, (_, i) => 19 + i);
  const [b0, b1, sv] = [27, 28, 29];
  const rowAt = (i: number): Bytes[] => (i === 0 ? [get(o)] : [get(o), i32(i), get(outRow), op.i32Mul, op.i32Add]);
  const rowOffset = [[], [get(aIS), op.i32Add], [get(aIS2), op.i32Add], [get(aIS3), op.i32Add]];
  const mulAdd = (x: number, y: number, z: number): Bytes[] =>
    madd ? [get(x), get(y), get(z), f32x4RelaxedMadd] : [get(z), get(x), get(y), op.f32x4Mul, op.f32x4Add];
  return {
    name: madd ? 'gemmSplatMadd' : 'gemmSplat',
    params: Array(11).fill(I32),
    locals: [...Array(8).fill(I32), ...Array(11).fill(V128)],
    body: [
      get(aIS), i32(1), op.i32Shl, set(aIS2),
      get(aIS2), get(aIS), op.i32Add, set(aIS3),
      ...forLoop(i0, i32(0), get(rows), i32(4), forLoop(j, i32(0), get(colsBytes), i32(32), [
        get(out), get(i0), get(outRow), op.i32Mul, op.i32Add, get(j), op.i32Add, set(o),
        get(accumulate),
        op.if,
        ...[0, 1, 2, 3].flatMap((i) => [...rowAt(i), op.v128Load(0), set(acc[2 * i]), ...rowAt(i), op.v128Load(16), set(acc[2 * i + 1])]),
        op.else,
        op.f32(0), op.f32x4Splat, set(acc[0]),
        ...acc.slice(1).flatMap((x) => [get(acc[0]), set(x)]),
        op.end,
        get(a), get(i0), get(aIS), op.i32Mul, op.i32Add, set(ap),
        get(b), get(j), op.i32Add, set(bp),
        ...forLoop(r, i32(0), get(depth), i32(1), [
          get(bp), op.v128Load(0), set(b0),
          get(bp), op.v128Load(16), set(b1),
          ...[0, 1, 2, 3].flatMap((i) => [
            get(ap), ...rowOffset[i], op.v128Load32Splat(), set(sv),
            ...mulAdd(sv, b0, acc[2 * i]), set(acc[2 * i]),
            ...mulAdd(sv, b1, acc[2 * i + 1]), set(acc[2 * i + 1]),
          ]),
          addTo(ap, get(aRS)),
          addTo(bp, get(bRow)),
        ]),
        ...[0, 1, 2, 3].flatMap((i) => [...rowAt(i), get(acc[2 * i]), op.v128Store(0), ...rowAt(i), get(acc[2 * i + 1]), op.v128Store(16)]),
      ])),
    ],
  };
}

export const GEMM_MADD_FUNCTIONS: FunctionDef[] = [gemmSplat(true)];

export const WINOGRAD_FUNCTIONS: FunctionDef[] = [wgInput, wgOutput, wgGradOut, wgFilter, wgFilterGrad, gemmSplat(false)];

export interface WinogradKernels {
  wgInput(
    x: number, ih0: number, inH: number, inW: number, c4: number, padL: number, wp: number, tW: number,
    scratch: number, v: number, vStride: number, t0: number,
  ): void;
  wgOutput(m: number, mStride: number, t0: number, y: number, rowBytes: number, tW: number, k4: number): void;
  wgGradOut(dy: number, rowBytes: number, tW: number, k4: number, out: number, oStride: number, t0: number): void;
  wgFilter(g: number, u: number, ck4: number, uStride: number): void;
  wgFilterGrad(m: number, mStride: number, dg: number, ck4: number): void;
  gemmSplat(
    a: number, aIS: number, aRS: number, b: number, bRow: number, out: number, outRow: number, rows: number,
    colsBytes: number, depth: number, accumulate: number,
  ): void;
}
