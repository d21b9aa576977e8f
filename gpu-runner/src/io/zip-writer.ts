/**
 * A minimal ZIP writer for stored (uncompressed) entries, as PyTorch's
 * `torch.save` writes its archives (caffe2/serialize/inline_container.cc):
 * every entry's data starts at a multiple of `alignment` bytes (64 for
 * PyTorch, so storages can be memory-mapped), reached by padding the local
 * header's extra field with an extra block of id "FB" filled with 'Z' bytes.
 * The central directory carries no extra field.
 *
 * The output is a pure function of the entries: timestamps are fixed at
 * 1980-01-01 00:00 (the earliest DOS date), so the same model gives the
 * same bytes. No ZIP64: an archive of 4 GiB or more, or with 65,535 entries
 * or more, is refused.
 */
import { crc32 } from 'node:zlib';
import { FusionError } from '@clafusion/model-format/errors';

export interface ZipEntry {
  /** Path inside the archive, '/'-separated. */
  name: string;
  data: Uint8Array;
}

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
const END_SIZE = 22;
/** The extra block's id and length fields. */
const EXTRA_BLOCK_HEADER = 4;
/** "FB": the id PyTorch gives its padding block. */
const PADDING_ID = 0x4246;
/** 1980-01-01: day 1, month 1, year 0 (1980) in DOS date bits. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;
/** ZIP 2.0: what a stored entry needs; bit 11 of the flags marks UTF-8 names. */
const VERSION = 20;
const UTF8_FLAG = 1 << 11;
const MAX_U32 = 0xffffffff;

interface Placed {
  name: Uint8Array;
  data: Uint8Array;
  crc: number;
  offset: number;
  padding: number;
}

function tooLarge(message: string): FusionError {
  return new FusionError('UNSUPPORTED', message);
}

/** Bytes of extra field so that the data after a local header at `offset` is aligned. */
function paddingFor(offset: number, nameLength: number, alignment: number): number {
  const start = offset + LOCAL_HEADER_SIZE + nameLength + EXTRA_BLOCK_HEADER;
  return (alignment - (start % alignment)) % alignment;
}

/** Serializes `entries`, in order, as a ZIP archive of stored entries with aligned data. */
export function storedZip(entries: readonly ZipEntry[], alignment = 64): Uint8Array {
  if (!Number.isInteger(alignment) || alignment < 1) throw new FusionError('INVALID_ARGUMENT', `zip alignment must be a positive integer, got ${alignment}`);
  if (entries.length >= 0xffff) throw tooLarge(`a zip of ${entries.length} entries needs ZIP64, which is not written`);
  const encoder = new TextEncoder();
  const seen = new Set<string>();
  const placed: Placed[] = [];
  let offset = 0;
  for (const entry of entries) {
    if (seen.has(entry.name)) throw new FusionError('INVALID_ARGUMENT', `zip entry ${entry.name} is given twice`);
    seen.add(entry.name);
    const name = encoder.encode(entry.name);
    if (name.byteLength > 0xffff) throw new FusionError('INVALID_ARGUMENT', `zip entry name ${entry.name.slice(0, 40)}… is too long`);
    const padding = paddingFor(offset, name.byteLength, alignment);
    placed.push({ name, data: entry.data, crc: crc32(entry.data), offset, padding });
    offset += LOCAL_HEADER_SIZE + name.byteLength + EXTRA_BLOCK_HEADER + padding + entry.data.byteLength;
  }
  const centralStart = offset;
  const centralSize = placed.reduce((sum, p) => sum + CENTRAL_HEADER_SIZE + p.name.byteLength, 0);
  const total = centralStart + centralSize + END_SIZE;
  if (centralStart + centralSize > MAX_U32) throw tooLarge(`a zip of ${total} bytes needs ZIP64, which is not written`);

  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let p = 0;
  const u16 = (v: number) => {
    dv.setUint16(p, v, true);
    p += 2;
  };
  const u32 = (v: number) => {
    dv.setUint32(p, v, true);
    p += 4;
  };
  const bytes = (b: Uint8Array) => {
    out.set(b, p);
    p += b.byteLength;
  };
  for (const e of placed) {
    u32(LOCAL_HEADER);
    u16(VERSION);
    u16(UTF8_FLAG);
    u16(0); // stored
    u16(DOS_TIME);
    u16(DOS_DATE);
    u32(e.crc);
    u32(e.data.byteLength); // compressed size
    u32(e.data.byteLength);
    u16(e.name.byteLength);
    u16(EXTRA_BLOCK_HEADER + e.padding);
    bytes(e.name);
    u16(PADDING_ID);
    u16(e.padding);
    out.fill(0x5a, p, p + e.padding); // 'Z', as PyTorch pads
    p += e.padding;
    bytes(e.data);
  }
  for (const e of placed) {
    u32(CENTRAL_HEADER);
    u16(VERSION); // made by
    u16(VERSION); // needed to extract
    u16(UTF8_FLAG);
    u16(0);
    u16(DOS_TIME);
    u16(DOS_DATE);
    u32(e.crc);
    u32(e.data.byteLength);
    u32(e.data.byteLength);
    u16(e.name.byteLength);
    u16(0); // extra
    u16(0); // comment
    u16(0); // disk
    u16(0); // internal attributes
    u32(0); // external attributes
    u32(e.offset);
    bytes(e.name);
  }
  u32(END_OF_CENTRAL_DIRECTORY);
  u16(0);
  u16(0);
  u16(placed.length);
  u16(placed.length);
  u32(centralSize);
  u32(centralStart);
  u16(0);
  return out;
}
