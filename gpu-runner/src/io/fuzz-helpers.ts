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

// ------------------------------------------------------------ PyTorch checkpoints

/**
 * Pickle opcodes written out by hand, so a test can build exactly the stream
 * it means (including hostile ones a pickler would never write).
 */
export const pickle = {
  proto: (v = 2) => new Uint8Array([0x80, v]),
  stop: new Uint8Array([0x2e]),
  mark: new Uint8Array([0x28]),
  tuple: new Uint8Array([0x74]),
  emptyTuple: new Uint8Array([0x29]),
  emptyDict: new Uint8Array([0x7d]),
  emptyList: new Uint8Array([0x5d]),
  setItems: new Uint8Array([0x75]),
  appends: new Uint8Array([0x65]),
  reduce: new Uint8Array([0x52]),
  binpersid: new Uint8Array([0x51]),
  newFalse: new Uint8Array([0x89]),
  none: new Uint8Array([0x4e]),
  stackGlobal: new Uint8Array([0x93]),
  global: (module: string, name: string) => new TextEncoder().encode(`c${module}\n${name}\n`),
  str(s: string): Uint8Array {
    const b = new TextEncoder().encode(s);
    const out = new Uint8Array(5 + b.length);
    out[0] = 0x58;
    new DataView(out.buffer).setUint32(1, b.length, true);
    out.set(b, 5);
    return out;
  },
  /** Any integer, as LONG1 (little-endian two's complement). */
  int(v: number | bigint): Uint8Array {
    let x = BigInt(v);
    const bytes: number[] = [];
    do {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
    } while (!((x === 0n && (bytes.at(-1)! & 0x80) === 0) || (x === -1n && (bytes.at(-1)! & 0x80) !== 0)));
    return new Uint8Array([0x8a, bytes.length, ...bytes]);
  },
};

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One tensor of a hand-built state dict: a view of storage `key`. */
export interface PickledTensor {
  name: string;
  key: string;
  /** torch storage class, e.g. FloatStorage. */
  storage: string;
  /** Elements the storage declares. */
  numel: number | bigint;
  offset?: number;
  shape: number[];
  stride?: number[];
}

/** A state dict pickle as torch.save writes it: an OrderedDict of _rebuild_tensor_v2 calls on persistent storages. */
export function stateDictPickle(tensors: PickledTensor[], legacy = false): Uint8Array {
  const tuple = (xs: number[]) => concatBytes(pickle.mark, ...xs.map((x) => pickle.int(x)), pickle.tuple);
  const rowMajor = (shape: number[]) => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const items = tensors.map((t) =>
    concatBytes(
      pickle.str(t.name),
      pickle.global('torch._utils', '_rebuild_tensor_v2'),
      pickle.mark,
      pickle.mark,
      pickle.str('storage'),
      pickle.global('torch', t.storage),
      pickle.str(t.key),
      pickle.str('cpu'),
      pickle.int(t.numel),
      ...(legacy ? [pickle.none] : []),
      pickle.tuple,
      pickle.binpersid,
      pickle.int(t.offset ?? 0),
      tuple(t.shape),
      tuple(t.stride ?? rowMajor(t.shape)),
      pickle.newFalse,
      pickle.global('collections', 'OrderedDict'),
      pickle.emptyTuple,
      pickle.reduce,
      pickle.tuple,
      pickle.reduce,
    ),
  );
  return concatBytes(pickle.proto(), pickle.global('collections', 'OrderedDict'), pickle.emptyTuple, pickle.reduce, pickle.mark, ...items, pickle.setItems, pickle.stop);
}

export interface ZipEntrySpec {
  name: string;
  data: Uint8Array;
  /** 8 to store `data` as given but mark it deflated (pass deflateRawSync output). */
  method?: 0 | 8;
  /** The uncompressed size the headers declare (default: data's length, for stored entries). */
  declaredSize?: number;
}

/**
 * A zip archive with the given entries, stored unless told otherwise, without
 * data descriptors. With `zip64`, every size and offset is in zip64 form (the
 * 32-bit fields 0xffffffff, the values in extra fields and a zip64 end
 * record), as writers do for archives past 4 GiB.
 */
export function zipBytes(entries: ZipEntrySpec[], zip64 = false): Uint8Array {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const size = e.declaredSize ?? e.data.length;
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, e.method ?? 0, true);
    lv.setUint32(18, e.data.length, true);
    lv.setUint32(22, size >>> 0, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const extra = zip64 ? 4 + 24 : 0;
    const central = new Uint8Array(46 + name.length + extra);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, 45, true);
    cv.setUint16(10, e.method ?? 0, true);
    cv.setUint32(20, zip64 ? 0xffffffff : e.data.length, true);
    cv.setUint32(24, zip64 ? 0xffffffff : size >>> 0, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra, true);
    cv.setUint32(42, zip64 ? 0xffffffff : offset, true);
    central.set(name, 46);
    if (zip64) {
      const x = 46 + name.length;
      cv.setUint16(x, 0x0001, true);
      cv.setUint16(x + 2, 24, true);
      cv.setBigUint64(x + 4, BigInt(size), true);
      cv.setBigUint64(x + 12, BigInt(e.data.length), true);
      cv.setBigUint64(x + 20, BigInt(offset), true);
    }
    locals.push(local, e.data);
    centrals.push(central);
    offset += local.length + e.data.length;
  }
  const cd = concatBytes(...centrals);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, zip64 ? 0xffff : entries.length, true);
  ev.setUint16(10, zip64 ? 0xffff : entries.length, true);
  ev.setUint32(12, zip64 ? 0xffffffff : cd.length, true);
  ev.setUint32(16, zip64 ? 0xffffffff : offset, true);
  if (!zip64) return concatBytes(...locals, cd, eocd);
  const record = new Uint8Array(56);
  const rv = new DataView(record.buffer);
  rv.setUint32(0, 0x06064b50, true);
  rv.setBigUint64(4, 44n, true);
  rv.setUint16(12, 45, true);
  rv.setUint16(14, 45, true);
  rv.setBigUint64(24, BigInt(entries.length), true);
  rv.setBigUint64(32, BigInt(entries.length), true);
  rv.setBigUint64(40, BigInt(cd.length), true);
  rv.setBigUint64(48, BigInt(offset), true);
  const locator = new Uint8Array(20);
  const lv = new DataView(locator.buffer);
  lv.setUint32(0, 0x07064b50, true);
  lv.setBigUint64(8, BigInt(offset + cd.length), true);
  lv.setUint32(16, 1, true);
  return concatBytes(...locals, cd, record, locator, eocd);
}

/** A torch.save zip archive: `archive/data.pkl` plus one `archive/data/<key>` entry per storage. */
export function torchZipBytes(dataPkl: Uint8Array, storages: Record<string, Uint8Array> = {}, zip64 = false): Uint8Array {
  return zipBytes(
    [
      { name: 'archive/data.pkl', data: dataPkl },
      ...Object.entries(storages).map(([key, data]) => ({ name: `archive/data/${key}`, data })),
      { name: 'archive/version', data: new TextEncoder().encode('3\n') },
    ],
    zip64,
  );
}

/** A legacy (non-zip) torch.save file: magic, protocol and sys-info pickles, the state dict, the key list, then the storages. */
export function torchLegacyBytes(dataPkl: Uint8Array, storages: [key: string, numel: number | bigint, bytes: Uint8Array][]): Uint8Array {
  const p = pickle;
  const sysInfo = concatBytes(p.proto(), p.emptyDict, p.mark, p.str('protocol_version'), p.int(1001), p.str('little_endian'), new Uint8Array([0x88]), p.setItems, p.stop);
  const keys = concatBytes(p.proto(), p.emptyList, p.mark, ...storages.map(([k]) => p.str(k)), p.appends, p.stop);
  const blobs = storages.map(([, numel, bytes]) => {
    const size = new Uint8Array(8);
    new DataView(size.buffer).setBigInt64(0, BigInt(numel), true);
    return concatBytes(size, bytes);
  });
  return concatBytes(
    concatBytes(p.proto(), p.int(0x1950a86a20f9469cfc6cn), p.stop),
    concatBytes(p.proto(), p.int(1001), p.stop),
    sysInfo,
    dataPkl,
    keys,
    ...blobs,
  );
}
