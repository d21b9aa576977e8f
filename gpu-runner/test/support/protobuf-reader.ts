/**
 * Test support: a protobuf wire-format reader (protobuf.dev/programming-guides/encoding),
 * written separately from src/io/protobuf-writer.ts so tests can look into
 * what the writer produced. Returns a message's fields in order, undecoded
 * beyond their wire type.
 */
export interface ProtoField {
  field: number;
  wire: 0 | 1 | 2 | 5;
  /** varint: bigint; fixed64/fixed32: the raw bytes; length-delimited: the bytes. */
  value: bigint | Uint8Array;
}

export function readProto(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let p = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (p >= bytes.length) throw new Error('truncated varint');
      const b = bytes[p++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  const take = (n: number): Uint8Array => {
    if (p + n > bytes.length) throw new Error(`field runs past the end (${p + n} > ${bytes.length})`);
    const out = bytes.subarray(p, p + n);
    p += n;
    return out;
  };
  while (p < bytes.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    switch (wire) {
      case 0:
        fields.push({ field, wire, value: varint() });
        break;
      case 1:
        fields.push({ field, wire, value: take(8) });
        break;
      case 2:
        fields.push({ field, wire, value: take(Number(varint())) });
        break;
      case 5:
        fields.push({ field, wire, value: take(4) });
        break;
      default:
        throw new Error(`unknown wire type ${wire} at byte ${p}`);
    }
  }
  return fields;
}
