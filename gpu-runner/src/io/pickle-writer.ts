/**
 * A small emitter of Python pickle opcodes (protocol 2), enough to write the
 * objects a PyTorch state dict is made of: globals and their calls (REDUCE),
 * tuples, strings, integers, booleans, dict items and persistent ids.
 * Opcodes and their encodings follow CPython's Lib/pickle.py and
 * Lib/pickletools.py. No memo is written: it only saves bytes, and an
 * unpickler needs none.
 *
 * Callers emit a stream of opcodes in the order the unpickler's stack needs
 * them; `finish()` appends STOP.
 */
import { FusionError } from '@clafusion/model-format/errors';

const OP = {
  PROTO: 0x80,
  STOP: 0x2e, // .
  MARK: 0x28, // (
  GLOBAL: 0x63, // c
  REDUCE: 0x52, // R
  EMPTY_TUPLE: 0x29, // )
  TUPLE: 0x74, // t
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  BININT: 0x4a, // J: signed 32-bit
  BININT1: 0x4b, // K: unsigned 8-bit
  BININT2: 0x4d, // M: unsigned 16-bit
  LONG1: 0x8a, // little-endian two's complement of n ≤ 255 bytes
  BINUNICODE: 0x58, // X: u32 length + UTF-8
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  NONE: 0x4e, // N
  BINPERSID: 0x51, // Q
  SETITEMS: 0x75, // u
} as const;

export class PickleWriter {
  private readonly chunks: Uint8Array[] = [];
  private readonly encoder = new TextEncoder();

  constructor() {
    this.byte(OP.PROTO, 2);
  }

  private byte(...values: number[]): this {
    this.chunks.push(Uint8Array.from(values));
    return this;
  }

  mark(): this {
    return this.byte(OP.MARK);
  }

  /** `module.name`, looked up by the unpickler (which decides what it allows). */
  global(module: string, name: string): this {
    for (const part of [module, name]) {
      if (part === '' || /[\n\r]/.test(part)) throw new FusionError('INVALID_ARGUMENT', `invalid pickle global name ${JSON.stringify(part)}`);
    }
    this.byte(OP.GLOBAL);
    this.chunks.push(this.encoder.encode(`${module}\n${name}\n`));
    return this;
  }

  /** Calls the callable below the argument tuple on the stack. */
  reduce(): this {
    return this.byte(OP.REDUCE);
  }

  /** Replaces the top `n` items (n ≤ 3) or everything since the last MARK (n undefined) with a tuple. */
  tuple(n?: 0 | 1 | 2 | 3): this {
    switch (n) {
      case 0:
        return this.byte(OP.EMPTY_TUPLE);
      case 1:
        return this.byte(OP.TUPLE1);
      case 2:
        return this.byte(OP.TUPLE2);
      case 3:
        return this.byte(OP.TUPLE3);
      default:
        return this.byte(OP.TUPLE);
    }
  }

  /** A tuple of integers, e.g. a tensor's size or stride. */
  intTuple(values: readonly number[]): this {
    if (values.length <= 3) {
      for (const v of values) this.int(v);
      return this.tuple(values.length as 0 | 1 | 2 | 3);
    }
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }

  string(value: string): this {
    const bytes = this.encoder.encode(value);
    const header = new Uint8Array(5);
    header[0] = OP.BINUNICODE;
    new DataView(header.buffer).setUint32(1, bytes.byteLength, true);
    this.chunks.push(header, bytes);
    return this;
  }

  /** An integer, in the shortest encoding pickle.py itself would choose. */
  int(value: number): this {
    if (!Number.isSafeInteger(value)) throw new FusionError('INVALID_ARGUMENT', `cannot pickle ${value} as an integer`);
    if (value >= 0 && value <= 0xff) return this.byte(OP.BININT1, value);
    if (value >= 0 && value <= 0xffff) return this.byte(OP.BININT2, value & 0xff, value >> 8);
    if (value >= -(2 ** 31) && value < 2 ** 31) {
      const out = new Uint8Array(5);
      out[0] = OP.BININT;
      new DataView(out.buffer).setInt32(1, value, true);
      this.chunks.push(out);
      return this;
    }
    // LONG1: the two's-complement little-endian bytes, as few as keep the sign.
    const digits: number[] = [];
    let v = BigInt(value);
    for (;;) {
      const b = Number(v & 0xffn);
      digits.push(b);
      v >>= 8n;
      if ((v === 0n && (b & 0x80) === 0) || (v === -1n && (b & 0x80) !== 0)) break;
    }
    return this.byte(OP.LONG1, digits.length, ...digits);
  }

  bool(value: boolean): this {
    return this.byte(value ? OP.NEWTRUE : OP.NEWFALSE);
  }

  none(): this {
    return this.byte(OP.NONE);
  }

  /** Pops the top object and replaces it by `persistent_load(object)`. */
  persistentId(): this {
    return this.byte(OP.BINPERSID);
  }

  /** Sets the key/value pairs pushed since the last MARK on the dict below that MARK. */
  setItems(): this {
    return this.byte(OP.SETITEMS);
  }

  finish(): Uint8Array {
    this.byte(OP.STOP);
    const length = this.chunks.reduce((n, c) => n + c.byteLength, 0);
    const out = new Uint8Array(length);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.byteLength;
    }
    return out;
  }
}
