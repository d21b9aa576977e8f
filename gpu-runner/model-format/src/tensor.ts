/**
 * Host-side tensors: a shape and a row-major Float32Array, exactly what a
 * safetensors file holds. The fusion algorithms (CKA, the CLA dynamic program,
 * optimal transport) work on these and on Float64Array matrices; tfjs is only
 * used for forward passes and training.
 */
import { FusionError } from './errors.ts';

export interface Tensor32 {
  shape: number[];
  data: Float32Array;
}

/** A dense row-major float64 matrix, used where the spec asks for float64. */
export interface Mat64 {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function tensor32(shape: number[], data?: ArrayLike<number>): Tensor32 {
  const n = numel(shape);
  const out = new Float32Array(n);
  if (data !== undefined) {
    if (data.length !== n) {
      throw new FusionError('SHAPE_MISMATCH', `data of length ${data.length} does not fill shape [${shape.join(', ')}]`);
    }
    out.set(data);
  }
  return { shape: [...shape], data: out };
}

export function mat64(rows: number, cols: number, data?: Float64Array): Mat64 {
  if (data !== undefined && data.length !== rows * cols) {
    throw new FusionError('SHAPE_MISMATCH', `data of length ${data.length} does not fill a ${rows}x${cols} matrix`);
  }
  return { rows, cols, data: data ?? new Float64Array(rows * cols) };
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throws NON_FINITE naming `what` if any entry is NaN or ±Inf. */
export function assertFinite(data: ArrayLike<number>, what: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new FusionError('NON_FINITE', `${what} contains ${data[i]} at flat index ${i}`, { tensor: what, index: i });
    }
  }
}
