import { describe, expect, it } from 'vitest';
import { readProto } from '../../test/support/protobuf-reader.ts';
import { ProtoMessage } from './protobuf-writer.ts';

describe('ProtoMessage', () => {
  it('encodes varints at every byte boundary and negative int64 as ten bytes', () => {
    const values = [0n, 1n, 127n, 128n, 16383n, 16384n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 63n - 1n];
    const m = new ProtoMessage();
    for (const v of values) m.int(1, v);
    m.int(2, -1).int(3, true).int(4, false);
    const fields = readProto(m.finish());
    expect(fields.slice(0, values.length).map((f) => f.value)).toEqual(values);
    expect(fields[values.length]).toEqual({ field: 2, wire: 0, value: 2n ** 64n - 1n });
    expect(fields.slice(-2).map((f) => f.value)).toEqual([1n, 0n]);
    // Known encodings: 300 is ac 02 (the protobuf guide's example); field 1 varint tag 08.
    expect([...new ProtoMessage().int(1, 300).finish()]).toEqual([0x08, 0xac, 0x02]);
    expect(new ProtoMessage().int(2, -1).byteLength).toBe(11);
  });

  it('encodes floats, strings, bytes and nested messages with their lengths', () => {
    const inner = new ProtoMessage().string(1, 'Größe').float(2, 1e-5);
    const big = new Uint8Array(300).fill(7);
    const bytes = new ProtoMessage().message(7, inner).bytes(9, big).strings(1, ['a', '']).finish();
    const [nested, raw, a, empty] = readProto(bytes);
    expect(nested.field).toBe(7);
    const innerFields = readProto(nested.value as Uint8Array);
    expect(new TextDecoder().decode(innerFields[0].value as Uint8Array)).toBe('Größe');
    const f = innerFields[1].value as Uint8Array;
    expect(innerFields[1].wire).toBe(5);
    expect(new DataView(f.buffer, f.byteOffset, 4).getFloat32(0, true)).toBe(Math.fround(1e-5));
    expect(raw).toEqual({ field: 9, wire: 2, value: big });
    expect([a.value, empty.value]).toEqual([Uint8Array.of(0x61), new Uint8Array(0)]);
  });

  it('refuses a non-integer', () => {
    expect(() => new ProtoMessage().int(1, 0.5)).toThrow(/protobuf field 1: 0.5 is not an integer/);
  });
});
