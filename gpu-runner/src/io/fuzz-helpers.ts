/**
 * Shared pieces of the file-reader fuzz tests (fuzz.test.ts) and their
 * regression corpus (fuzz-corpus.test.ts): the one outcome every reader must
 * have on hostile input, builders for well-formed files to mutate, and the
 * fast-check budget that keeps each property bounded on a loaded machine.
 */
import { expect } from 'vitest';
import { FusionError } from '@clafusion/model-format/errors';

/** Every property stops after this many runs or this many milliseconds, whichever comes first. */
export const FUZZ_BUDGET = { numRuns: 300, interruptAfterTimeLimit: 15_000 } as const;

/**
 * Runs a reader on hostile input: it may return, or throw a FusionError with
 * one of the stable codes a bad file can produce. Anything else (a TypeError,
 * a RangeError from a stack overflow or an allocation) fails the property.
 */
export function expectTypedOutcome<T>(read: () => T): T | FusionError {
  try {
    return read();
  } catch (e) {
    expectFusionError(e);
    return e as FusionError;
  }
}

export async function expectTypedOutcomeAsync<T>(read: () => Promise<T>): Promise<T | FusionError> {
  try {
    return await read();
  } catch (e) {
    expectFusionError(e);
    return e as FusionError;
  }
}

const FILE_ERROR_CODES = ['MALFORMED_FILE', 'UNSUPPORTED', 'SHAPE_MISMATCH', 'MISSING_TENSOR', 'UNEXPECTED_TENSOR', 'NON_FINITE', 'INVALID_ARCH'];

function expectFusionError(e: unknown): void {
  if (!(e instanceof FusionError)) throw new Error(`expected a FusionError, got ${String(e)}`, { cause: e });
  expect(FILE_ERROR_CODES).toContain(e.code);
  expect(e.message.length).toBeGreaterThan(0);
}

/** An .npy file (format 1.0 or 2.0) with the header text as given (no padding). */
export function npyBytes(header: string, data: Uint8Array = new Uint8Array(0), version: 1 | 2 = 1): Uint8Array {
  const head = new TextEncoder().encode(header);
  const prefix = version === 1 ? 10 : 12;
  const out = new Uint8Array(prefix + head.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, head.length & 0xffff, true);
  else dv.setUint32(8, head.length, true);
  out.set(head, prefix);
  out.set(data, prefix + head.length);
  return out;
}

/** An IDX ubyte file: magic 0x000008<ndim>, big-endian dims, then the bytes. */
export function idxBytes(dims: number[], data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x800 + dims.length, false);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d >>> 0, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** A safetensors file with the header JSON text exactly as given, then `data`. */
export function safetensorsBytes(headerJson: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const head = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
}

/** The same bytes with the 8-byte little-endian length prefix replaced. */
export function withLengthPrefix(bytes: Uint8Array, length: bigint): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, length), true);
  return out;
}
