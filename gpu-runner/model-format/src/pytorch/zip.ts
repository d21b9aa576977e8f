/**
 * Reading a zip archive's directory and entries, as `torch.save` writes them
 * (PyTorch ≥ 1.6): stored (uncompressed) entries, zip64 records when the
 * archive is large. Deflated entries are read too (an archive re-zipped by
 * another tool), with inflation bounded twice: the declared size may not
 * exceed what deflate can produce from the compressed bytes (1032:1) nor
 * `maxInflatedBytes`, and inflation stops at the declared size, so neither a
 * lying header nor a zip bomb makes us allocate more than we chose.
 *
 * The reader is written without I/O: each step is a generator that yields
 * the byte range it needs next ([start, end) of the file), so the same code
 * reads a buffer in memory (runRangesSync) and a stored object by range
 * requests (runRangesAsync: the API reads only the directory and data.pkl of
 * an upload, never its tensors).
 */
import { inflateRawSync } from 'node:zlib';
import { FusionError } from '../errors.ts';

/** A step that asks for byte ranges and returns T once it has them all. */
export type RangeReads<T> = Generator<readonly [number, number], T, Uint8Array>;

export function runRangesSync<T>(steps: RangeReads<T>, bytes: Uint8Array): T {
  let next = steps.next(new Uint8Array(0));
  while (!next.done) {
    const [start, end] = next.value;
    next = steps.next(bytes.subarray(start, end));
  }
  return next.value;
}

export async function runRangesAsync<T>(steps: RangeReads<T>, read: (start: number, end: number) => Promise<Uint8Array>): Promise<T> {
  let next = steps.next(new Uint8Array(0));
  while (!next.done) {
    const [start, end] = next.value;
    next = steps.next(start === end ? new Uint8Array(0) : await read(start, end));
  }
  return next.value;
}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated; others are refused when read. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header. */
  localOffset: number;
}

export interface ZipReadOptions {
  /** Largest size a deflated entry may inflate to (default 1 GiB). */
  maxInflatedBytes?: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** Deflate's best case: 258 bytes from about 2 bits, so no stream inflates beyond ~1032 times its size. */
const DEFLATE_MAX_RATIO = 1032;
/** Default bound on what deflated entries may inflate to (each, and a checkpoint's storages together). */
export const DEFAULT_MAX_INFLATED = 1024 ** 3;

function malformed(message: string, details: Record<string, unknown> = {}): FusionError {
  return new FusionError('MALFORMED_FILE', message, details);
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(dv: DataView, at: number, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`zip ${what} ${v} is beyond any file size`);
  return Number(v);
}

/** True when the bytes start like a zip archive (a local file header, or the end record of an empty one). */
export function looksLikeZip(prefix: Uint8Array): boolean {
  if (prefix.length < 4) return false;
  const sig = view(prefix).getUint32(0, true);
  return sig === LOCAL_SIGNATURE || sig === EOCD_SIGNATURE;
}

/** Reads the end records and the central directory: every entry, by name. */
export function* readZipDirectory(fileSize: number): RangeReads<Map<string, ZipEntry>> {
  if (fileSize < EOCD_SIZE) throw malformed(`zip archive is truncated: ${fileSize} bytes, shorter than its end record`);
  const tailStart = Math.max(0, fileSize - EOCD_SIZE - MAX_COMMENT);
  const tail = yield [tailStart, fileSize];
  const tv = view(tail);
  let eocd = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIGNATURE && i + EOCD_SIZE + tv.getUint16(i + 20, true) === tail.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw malformed('zip archive is truncated or damaged: no end-of-central-directory record');
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // zip64: a locator just before the end record points at the zip64 end record.
    const locator = eocd - 20;
    if (locator < 0 || tv.getUint32(locator, true) !== ZIP64_LOCATOR_SIGNATURE) throw malformed('zip64 archive has no zip64 locator');
    const recordAt = u64(tv, locator + 8, 'zip64 end record offset');
    if (recordAt + 56 > tailStart + locator) throw malformed('zip64 end record lies outside the archive');
    const record = view(yield [recordAt, recordAt + 56]);
    if (record.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) throw malformed('zip64 end record has a bad signature');
    count = u64(record, 32, 'entry count');
    cdSize = u64(record, 40, 'central directory size');
    cdOffset = u64(record, 48, 'central directory offset');
  }
  if (cdOffset + cdSize > fileSize) {
    throw malformed(`zip archive is truncated: its directory needs bytes ${cdOffset}..${cdOffset + cdSize} of a ${fileSize}-byte file`);
  }
  // Each directory record takes at least 46 bytes: a count beyond that is a lie we need not believe.
  if (count * 46 > cdSize) throw malformed(`zip directory claims ${count} entries in ${cdSize} bytes`);
  const cd = yield [cdOffset, cdOffset + cdSize];
  const cv = view(cd);
  const entries = new Map<string, ZipEntry>();
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  let at = 0;
  for (let k = 0; k < count; k++) {
    if (at + 46 > cd.length || cv.getUint32(at, true) !== CENTRAL_SIGNATURE) throw malformed(`zip directory entry ${k} is damaged`);
    const method = cv.getUint16(at + 10, true);
    let compressedSize = cv.getUint32(at + 20, true);
    let size = cv.getUint32(at + 24, true);
    const nameLength = cv.getUint16(at + 28, true);
    const extraLength = cv.getUint16(at + 30, true);
    const commentLength = cv.getUint16(at + 32, true);
    let localOffset = cv.getUint32(at + 42, true);
    const end = at + 46 + nameLength + extraLength + commentLength;
    if (end > cd.length) throw malformed(`zip directory entry ${k} runs past the directory`);
    const name = utf8.decode(cd.subarray(at + 46, at + 46 + nameLength));
    // zip64 extra field: the 64-bit values, in this order, for each 32-bit field that is 0xffffffff.
    let x = at + 46 + nameLength;
    const extraEnd = x + extraLength;
    while (x + 4 <= extraEnd) {
      const id = cv.getUint16(x, true);
      const len = cv.getUint16(x + 2, true);
      if (x + 4 + len > extraEnd) break;
      if (id === 0x0001) {
        let p = x + 4;
        const next = (what: string) => {
          if (p + 8 > x + 4 + len) throw malformed(`zip64 field of entry ${name} is too short`);
          const v = u64(cv, p, what);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = next('size');
        if (compressedSize === 0xffffffff) compressedSize = next('compressed size');
        if (localOffset === 0xffffffff) localOffset = next('entry offset');
      }
      x += 4 + len;
    }
    if (entries.has(name)) throw malformed(`zip archive holds ${name} twice`);
    entries.set(name, { name, method, compressedSize, size, localOffset });
    at = end;
  }
  return entries;
}

/** Where an entry's bytes begin: past its local header, whose name and extra lengths may differ from the directory's. */
function* entryDataStart(entry: ZipEntry, fileSize: number): RangeReads<number> {
  if (entry.localOffset + 30 > fileSize) throw malformed(`zip entry ${entry.name} lies outside the archive (truncated file?)`);
  const local = view(yield [entry.localOffset, entry.localOffset + 30]);
  if (local.getUint32(0, true) !== LOCAL_SIGNATURE) throw malformed(`zip entry ${entry.name} has a damaged local header`);
  const start = entry.localOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
  if (start + entry.compressedSize > fileSize) {
    throw malformed(`zip entry ${entry.name} needs ${entry.compressedSize} bytes at ${start} but the archive has ${fileSize} (truncated file?)`, {
      entry: entry.name,
    });
  }
  return start;
}

/** Checks that an entry can be read, without reading its bytes (they lie within the file, its method is known); returns where they begin. */
export function* checkZipEntry(entry: ZipEntry, fileSize: number): RangeReads<number> {
  if (entry.method !== 0 && entry.method !== 8) {
    throw new FusionError('UNSUPPORTED', `zip entry ${entry.name} uses compression method ${entry.method}; only stored and deflated entries are read`);
  }
  return yield* entryDataStart(entry, fileSize);
}

/** An entry's content: a view of the file for a stored entry, a bounded inflation for a deflated one. */
export function* readZipEntry(entry: ZipEntry, fileSize: number, options: ZipReadOptions = {}): RangeReads<Uint8Array> {
  const start = yield* checkZipEntry(entry, fileSize);
  if (entry.method === 0) {
    if (entry.size !== entry.compressedSize) throw malformed(`zip entry ${entry.name} is stored but its sizes differ`);
    return yield [start, start + entry.size];
  }
  const max = options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED;
  if (entry.size > max || entry.size > entry.compressedSize * DEFLATE_MAX_RATIO + 64) {
    throw malformed(
      `zip entry ${entry.name} declares ${entry.size} bytes from ${entry.compressedSize} compressed ones, beyond the limit of ${Math.min(max, entry.compressedSize * DEFLATE_MAX_RATIO + 64)}`,
      { entry: entry.name },
    );
  }
  const compressed = yield [start, start + entry.compressedSize];
  let out: Buffer;
  try {
    // One byte of room past the declared size tells a longer stream from an exact one.
    out = inflateRawSync(compressed, { maxOutputLength: Math.max(1, entry.size + 1) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw malformed(`zip entry ${entry.name} inflates to more than the ${entry.size} bytes it declares`, { entry: entry.name });
    throw malformed(`zip entry ${entry.name} is not valid deflate data (${(err as Error).message})`, { entry: entry.name });
  }
  if (out.length !== entry.size) {
    throw malformed(`zip entry ${entry.name} inflates to ${out.length} bytes, not the ${entry.size} it declares`, { entry: entry.name });
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
