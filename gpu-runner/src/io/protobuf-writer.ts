/**
 * A minimal Protocol Buffers encoder (the binary wire format of
 * protobuf.dev/programming-guides/encoding): varints, 32-bit floats, and
 * length-delimited fields (strings, bytes, nested messages). Enough to write
 * an ONNX model (onnx-writer.ts) without a protobuf library.
 *
 * A message is a list of chunks; a nested message is added by reference
 * with its length, so large payloads (weights) are copied once, in finish().
 * Repeated fields are written one element per field (unpacked), which is
 * what proto2 declares for onnx.proto's repeated scalars; parsers accept it
 * for packed fields too.
 */
import { FusionError } from '@clafusion/model-format/errors';

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

function varint(value: bigint): Uint8Array {
  // Negative int64 values are their two's complement as an unsigned 64-bit number (10 bytes).
  let v = value < 0n ? value + (1n << 64n) : value;
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return Uint8Array.from(out);
}

function toBigInt(value: number | bigint, field: number): bigint {
  if (typeof value === 'bigint') return value;
  if (!Number.isSafeInteger(value)) throw new FusionError('INVALID_ARGUMENT', `protobuf field ${field}: ${value} is not an integer`);
  return BigInt(value);
}

export class ProtoMessage {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;
  private static readonly encoder = new TextEncoder();

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }

  private tag(field: number, wire: number): void {
    this.push(varint(BigInt(field) * 8n + BigInt(wire)));
  }

  /** int32, int64, uint64, bool or enum. */
  int(field: number, value: number | bigint | boolean): this {
    this.tag(field, WIRE_VARINT);
    this.push(varint(typeof value === 'boolean' ? (value ? 1n : 0n) : toBigInt(value, field)));
    return this;
  }

  ints(field: number, values: readonly (number | bigint)[]): this {
    for (const v of values) this.int(field, v);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const out = new Uint8Array(4);
    new DataView(out.buffer).setFloat32(0, value, true);
    this.push(out);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.push(varint(BigInt(value.byteLength)));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, ProtoMessage.encoder.encode(value));
  }

  strings(field: number, values: readonly string[]): this {
    for (const v of values) this.string(field, v);
    return this;
  }

  message(field: number, value: ProtoMessage): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.push(varint(BigInt(value.length)));
    for (const c of value.chunks) this.push(c);
    return this;
  }

  messages(field: number, values: readonly ProtoMessage[]): this {
    for (const v of values) this.message(field, v);
    return this;
  }

  get byteLength(): number {
    return this.length;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.byteLength;
    }
    return out;
  }
}
