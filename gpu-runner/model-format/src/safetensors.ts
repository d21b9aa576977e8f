/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON, then the tensor bytes. The JSON maps each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the start
 * of the byte buffer) and may hold `__metadata__`, a string→string map.
 *
 * Validation follows the reference implementation (huggingface/safetensors,
 * `Metadata::validate` and `SafeTensors::read_metadata`): sorted by offset, the
 * tensors must tile the byte buffer exactly — no holes, no overlaps, no
 * trailing bytes — and each tensor's byte length must equal numel × dtype
 * size. We are stricter where the reference silently accepts: duplicate keys
 * (serde keeps one) are rejected. Every check runs before any allocation sized
 * by the header, so a hostile header cannot make us allocate more than the
 * file itself.
 */
import type { FileHandle } from 'node:fs/promises';
import { open, readFile } from 'node:fs/promises';
import { FusionError } from './errors.ts';
import { numel, shapeString } from './tensor.ts';
import { atomicWriteFile } from './atomic-write.ts';
import { type RawTensor, type SafetensorsDtype, dtypeSize, isSafetensorsDtype } from './dtypes.ts';
import { scanJsonKeys } from './json-keys.ts';

/** The reference implementation's limit on the JSON header. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsReadOptions {
  /** Largest accepted JSON header, in bytes (default 100 MB, as the reference). */
  maxHeaderBytes?: number;
}

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Length of the JSON header in bytes (the N of the first 8 bytes). */
  headerLength: number;
  /** Absolute file offset of the data section: 8 + headerLength. */
  dataStart: number;
  /** Length of the data section in bytes. */
  dataLength: number;
  /** `__metadata__`, or an empty object when the file has none. */
  metadata: Record<string, string>;
  /** The tensors in file (offset) order. */
  tensors: TensorEntry[];
}

export interface SafetensorsContents {
  metadata: Record<string, string>;
  /** The tensors in file order; `bytes` are views into the parsed buffer. */
  tensors: Map<string, RawTensor>;
}

/** A tensor to write. Without `dtype` it is float32, so a Tensor32 can be passed as is. */
export interface TensorToWrite {
  dtype?: 'F32' | 'I32' | 'I64';
  shape: readonly number[];
  data: ArrayLike<number> | BigInt64Array;
}

const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function malformed(message: string, details: Record<string, unknown> = {}): FusionError {
  return new FusionError('MALFORMED_FILE', message, details);
}

// ---------------------------------------------------------------- reading

/**
 * Reads and checks the 8-byte length prefix against the limit and the file
 * length. Returns N, the header length.
 */
function parseHeaderLength(prefix: Uint8Array, fileLength: number, maxHeaderBytes: number): number {
  if (fileLength < 8) {
    throw malformed(`safetensors file is truncated: ${fileLength} bytes, shorter than the 8-byte header length`);
  }
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const low = dv.getUint32(0, true);
  const high = dv.getUint32(4, true);
  // Compare in BigInt so a length ≥ 2^53 is not rounded before the check.
  const n = (BigInt(high) << 32n) | BigInt(low);
  if (n > BigInt(maxHeaderBytes)) {
    throw malformed(`safetensors header length ${n} exceeds the limit of ${maxHeaderBytes} bytes`, { headerLength: n.toString() });
  }
  const headerLength = Number(n);
  if (8 + headerLength > fileLength) {
    throw malformed(
      `safetensors file is truncated: header length ${headerLength} needs ${8 + headerLength} bytes but the file has ${fileLength}`,
      { headerLength },
    );
  }
  return headerLength;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

function parseMetadata(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) {
    throw malformed(`${METADATA_KEY} must be an object of strings, got ${describeJson(value)}`, { field: METADATA_KEY });
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw malformed(`${METADATA_KEY}.${k} must be a string, got ${describeJson(v)}`, { field: `${METADATA_KEY}.${k}` });
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays a plain key.
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

/**
 * A short rendering of a header value for a message. JSON.stringify would
 * recurse through a value nested 500,000 deep (valid JSON that JSON.parse
 * accepts) and overflow the stack; found by fuzzing.
 */
function brief(v: unknown): string {
  if (Array.isArray(v)) {
    const flat = v.length <= 8 && v.every((x) => typeof x !== 'object' || x === null);
    return flat ? `[${v.map((x) => JSON.stringify(x)).join(',')}]` : describeJson(v);
  }
  return isPlainObject(v) ? describeJson(v) : JSON.stringify(v);
}

function isNonNegativeSafeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(name: string, value: unknown): TensorEntry {
  const fail = (problem: string) => malformed(`tensor ${name}: ${problem}`, { tensor: name });
  if (!isPlainObject(value)) throw fail(`header entry must be an object, got ${describeJson(value)}`);
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!(field in value)) throw fail(`header entry is missing "${field}"`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') throw fail(`dtype must be a string, got ${describeJson(dtype)}`);
  if (!isSafetensorsDtype(dtype)) throw fail(`unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape)) throw fail(`shape must be an array, got ${describeJson(shape)}`);
  shape.forEach((d, i) => {
    if (!isNonNegativeSafeInt(d)) throw fail(`shape[${i}] must be a non-negative integer, got ${brief(d)}`);
  });
  // A zero dimension hides any product of the others, so bound the non-zero
  // ones: code downstream multiplies sub-shapes (rows × columns), which must
  // stay exact integers even for an empty tensor.
  const nonZero = (shape as number[]).reduce((a, d) => (d === 0 ? a : a * d), 1) * dtypeSize(dtype);
  if (!Number.isSafeInteger(nonZero)) throw fail(`shape ${shapeString(shape as number[])} has too many elements`);
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw fail(`data_offsets must be an array of two integers, got ${brief(offsets)}`);
  }
  const [begin, end] = offsets as unknown[];
  if (!isNonNegativeSafeInt(begin) || !isNonNegativeSafeInt(end)) {
    throw fail(`data_offsets must be non-negative integers, got ${brief(offsets)}`);
  }
  if (end < begin) throw fail(`data_offsets [${begin}, ${end}] end before they begin`);
  const count = numel(shape);
  const needed = count * dtypeSize(dtype);
  if (!Number.isSafeInteger(needed)) throw fail(`shape ${shapeString(shape)} has too many elements`);
  if (end - begin !== needed) {
    throw fail(
      `data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape ${shapeString(shape)} of ${dtype} needs ${needed}`,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] };
}

/**
 * Checks that the tensors, sorted by offset, tile [0, dataLength) exactly, as
 * the reference implementation requires.
 */
function checkLayout(tensors: TensorEntry[], dataLength: number): void {
  for (const t of tensors) {
    if (t.dataOffsets[1] > dataLength) {
      throw malformed(
        `tensor ${t.name}: data_offsets [${t.dataOffsets.join(', ')}] are out of range, the data section has ${dataLength} bytes (truncated file?)`,
        { tensor: t.name },
      );
    }
  }
  let expected = 0;
  let previous: string | undefined;
  for (const t of tensors) {
    const [begin] = t.dataOffsets;
    if (begin < expected) {
      throw malformed(
        `tensor ${t.name}: data_offsets [${t.dataOffsets.join(', ')}] overlap tensor ${previous}, which ends at ${expected}`,
        { tensor: t.name, overlaps: previous },
      );
    }
    if (begin > expected) {
      const after = previous === undefined ? 'the start of the data section' : `tensor ${previous}`;
      throw malformed(
        `tensor ${t.name}: data_offsets begin at ${begin}, leaving a hole of ${begin - expected} bytes after ${after}`,
        { tensor: t.name },
      );
    }
    expected = t.dataOffsets[1];
    previous = t.name;
  }
  if (expected !== dataLength) {
    throw malformed(
      `safetensors file has ${dataLength - expected} trailing bytes after the last tensor${previous ? ` (${previous})` : ''}`,
      { trailingBytes: dataLength - expected },
    );
  }
}

/** Parses the JSON header bytes; `dataLength` is what the file holds after the header. */
function parseHeaderJson(headerBytes: Uint8Array, headerLength: number, dataLength: number): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw malformed('safetensors header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw malformed(`safetensors header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(json)) {
    throw malformed(`safetensors header must be a JSON object, got ${describeJson(json)}`);
  }
  const scan = scanJsonKeys(text);
  if (scan.duplicate !== undefined) {
    const where = scan.duplicate.path === '' ? 'the header' : scan.duplicate.path;
    throw malformed(`safetensors header has duplicate key ${JSON.stringify(scan.duplicate.key)} in ${where}`, {
      tensor: scan.duplicate.path === '' ? scan.duplicate.key : undefined,
      field: scan.duplicate.path === '' ? undefined : `${scan.duplicate.path}.${scan.duplicate.key}`,
    });
  }
  let metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];
  // Header order breaks ties between zero-length tensors sharing an offset.
  for (const key of scan.topLevelKeys) {
    if (key === METADATA_KEY) metadata = parseMetadata(json[key]);
    else tensors.push(parseEntry(key, json[key]));
  }
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  checkLayout(tensors, dataLength);
  return { headerLength, dataStart: 8 + headerLength, dataLength, metadata, tensors };
}

function maxHeader(options: SafetensorsReadOptions): number {
  const max = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!Number.isSafeInteger(max) || max < 0) {
    throw new FusionError('INVALID_ARGUMENT', `maxHeaderBytes must be a non-negative integer, got ${max}`, { field: 'maxHeaderBytes' });
  }
  return max;
}

/** Parses a whole safetensors file held in memory. Tensor bytes are views into `bytes`. */
export function parseSafetensors(bytes: Uint8Array, options: SafetensorsReadOptions = {}): SafetensorsContents {
  const headerLength = parseHeaderLength(bytes, bytes.byteLength, maxHeader(options));
  const header = parseHeaderJson(bytes.subarray(8, 8 + headerLength), headerLength, bytes.byteLength - 8 - headerLength);
  const tensors = new Map<string, RawTensor>();
  for (const t of header.tensors) {
    tensors.set(t.name, {
      dtype: t.dtype,
      shape: t.shape,
      bytes: bytes.subarray(header.dataStart + t.dataOffsets[0], header.dataStart + t.dataOffsets[1]),
    });
  }
  return { metadata: header.metadata, tensors };
}

async function readExactly(handle: FileHandle, length: number, position: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw malformed(`safetensors file ended after ${position + filled} bytes while reading the header`);
    filled += bytesRead;
  }
  return buffer;
}

/**
 * Reads and validates only the header (length prefix + JSON) of a file, so a
 * file can be checked without loading its tensors. Accepts a path or an open
 * handle (which is left open).
 */
export async function readSafetensorsHeader(
  source: string | FileHandle,
  options: SafetensorsReadOptions = {},
): Promise<SafetensorsHeader> {
  const max = maxHeader(options);
  const handle = typeof source === 'string' ? await open(source, 'r') : source;
  try {
    const { size } = await handle.stat();
    const prefix = size >= 8 ? await readExactly(handle, 8, 0) : new Uint8Array(0);
    const headerLength = parseHeaderLength(prefix, size, max);
    const headerBytes = await readExactly(handle, headerLength, 8);
    return parseHeaderJson(headerBytes, headerLength, size - 8 - headerLength);
  } finally {
    if (typeof source === 'string') await handle.close();
  }
}

/**
 * Header-only parsing for callers that fetch the bytes themselves (the API
 * reads a stored upload's first bytes with range requests): first the header
 * length N from the 8-byte prefix, then the N bytes of JSON. Same checks and
 * messages as readSafetensorsHeader; `fileLength` is the whole file's size.
 */
export function safetensorsHeaderLength(prefix: Uint8Array, fileLength: number, options: SafetensorsReadOptions = {}): number {
  return parseHeaderLength(prefix, fileLength, maxHeader(options));
}

export function parseSafetensorsHeader(headerBytes: Uint8Array, fileLength: number): SafetensorsHeader {
  const headerLength = headerBytes.byteLength;
  return parseHeaderJson(headerBytes, headerLength, fileLength - 8 - headerLength);
}

export async function readSafetensorsFile(path: string, options: SafetensorsReadOptions = {}): Promise<SafetensorsContents> {
  return parseSafetensors(await readFile(path), options);
}

// ---------------------------------------------------------------- writing

interface PreparedTensor {
  name: string;
  dtype: 'F32' | 'I32' | 'I64';
  shape: readonly number[];
  data: ArrayLike<number> | BigInt64Array;
  byteLength: number;
}

function invalidArgument(message: string, details: Record<string, unknown>): FusionError {
  return new FusionError('INVALID_ARGUMENT', message, details);
}

function prepareTensor(name: string, t: TensorToWrite): PreparedTensor {
  if (name === '' || name === METADATA_KEY) {
    throw invalidArgument(`cannot write a tensor named ${JSON.stringify(name)}`, { tensor: name });
  }
  const dtype = t.dtype ?? 'F32';
  t.shape.forEach((d, i) => {
    if (!isNonNegativeSafeInt(d)) {
      throw invalidArgument(`tensor ${name}: shape[${i}] must be a non-negative integer, got ${d}`, { tensor: name });
    }
  });
  const count = numel(t.shape);
  if (t.data.length !== count) {
    throw invalidArgument(`tensor ${name}: ${t.data.length} values do not fill shape ${shapeString(t.shape)}`, { tensor: name });
  }
  if (dtype !== 'F32') {
    const min = dtype === 'I32' ? -(2 ** 31) : Number.MIN_SAFE_INTEGER;
    const max = dtype === 'I32' ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
    if (!(t.data instanceof BigInt64Array)) {
      for (let i = 0; i < count; i++) {
        const v = t.data[i];
        if (!Number.isInteger(v) || v < min || v > max) {
          throw invalidArgument(`tensor ${name}: value ${v} at index ${i} is not a valid ${dtype}`, { tensor: name, index: i });
        }
      }
    } else if (dtype === 'I32') {
      throw invalidArgument(`tensor ${name}: BigInt64Array data must be written as I64`, { tensor: name });
    }
  }
  return { name, dtype, shape: t.shape, data: t.data, byteLength: count * dtypeSize(dtype) };
}

function writeTensorBytes(out: Uint8Array, offset: number, t: PreparedTensor): void {
  if (t.dtype === 'F32' && t.data instanceof Float32Array && LITTLE_ENDIAN_HOST) {
    // Copy the bytes: exact (NaN payloads included) and fast.
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), offset);
    return;
  }
  const dv = new DataView(out.buffer, out.byteOffset + offset, t.byteLength);
  const n = t.data.length;
  if (t.dtype === 'F32') {
    for (let i = 0; i < n; i++) dv.setFloat32(4 * i, t.data[i] as number, true);
  } else if (t.dtype === 'I32') {
    for (let i = 0; i < n; i++) dv.setInt32(4 * i, t.data[i] as number, true);
  } else if (t.data instanceof BigInt64Array) {
    for (let i = 0; i < n; i++) dv.setBigInt64(8 * i, t.data[i], true);
  } else {
    for (let i = 0; i < n; i++) dv.setBigInt64(8 * i, BigInt(t.data[i]), true);
  }
}

/**
 * Serializes tensors, in the order given, to safetensors bytes. The output is
 * a pure function of the input: the header JSON is built by hand (a JS object
 * would move integer-like names first), `__metadata__` keys are sorted, and
 * the header is padded with spaces to a multiple of 8 as the reference does.
 */
export function serializeSafetensors(
  tensors: Iterable<readonly [string, TensorToWrite]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const prepared: PreparedTensor[] = [];
  const seen = new Set<string>();
  for (const [name, t] of tensors) {
    if (seen.has(name)) throw invalidArgument(`tensor ${name} is given twice`, { tensor: name });
    seen.add(name);
    prepared.push(prepareTensor(name, t));
  }
  const entries: string[] = [];
  const metaKeys = Object.keys(metadata).sort();
  if (metaKeys.length > 0) {
    const fields = metaKeys.map((k) => {
      const v = metadata[k];
      if (typeof v !== 'string') throw invalidArgument(`${METADATA_KEY}.${k} must be a string`, { field: `${METADATA_KEY}.${k}` });
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    entries.push(`${JSON.stringify(METADATA_KEY)}:{${fields.join(',')}}`);
  }
  let offset = 0;
  for (const t of prepared) {
    const end = offset + t.byteLength;
    entries.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  const headerLength = json.byteLength + ((8 - (json.byteLength % 8)) % 8);
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLength);
  let position = 8 + headerLength;
  for (const t of prepared) {
    writeTensorBytes(out, position, t);
    position += t.byteLength;
  }
  return out;
}

/** Serializes and writes atomically (see atomic-write.ts). */
export async function writeSafetensorsFile(
  path: string,
  tensors: Iterable<readonly [string, TensorToWrite]>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await atomicWriteFile(path, serializeSafetensors(tensors, metadata));
}
