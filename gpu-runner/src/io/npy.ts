/**
 * NumPy `.npy` files, format versions 1.0, 2.0 and 3.0.
 *
 * Layout: magic "\x93NUMPY", major and minor version bytes, the header length
 * (uint16 LE in 1.0, uint32 LE in 2.0/3.0), then the header — a Python dict
 * literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`
 * in latin-1 (1.0/2.0) or UTF-8 (3.0) — then the raw array data.
 *
 * The data is returned as a RawTensor with the matching safetensors dtype, so
 * the safetensors decoders (toFloat32, toInt32Labels) serve both formats.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { readFilePrefix } from './byte-source.ts';
import { type ReadLimits, checkElementBudget, samplesToRead } from './dataset.ts';
import { type RawTensor, type SafetensorsDtype, dtypeSize } from '@clafusion/model-format/dtypes';

/** numpy's own default for `max_header_size` (numpy ≥ 1.24), against hostile headers. */
export const DEFAULT_MAX_NPY_HEADER_BYTES = 10_000;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The descr strings we read, and the dtype they map to. Single-byte types have no byte order. */
const DESCRS: Record<string, SafetensorsDtype> = {
  '<f4': 'F32',
  '<f8': 'F64',
  '|u1': 'U8',
  '<u1': 'U8',
  '<i4': 'I32',
  '<i8': 'I64',
};

export interface NpyReadOptions extends ReadLimits {
  maxHeaderBytes?: number;
}

export interface NpyArray extends RawTensor {
  /** The descr string from the header, e.g. '<f4'. */
  descr: string;
  /** First-axis length the header declares (before `limit`). */
  declaredCount: number;
}

function malformed(source: string, problem: string): FusionError {
  return new FusionError('MALFORMED_FILE', `${source}: ${problem}`, { path: source });
}

// ------------------------------------------------ Python literal parsing

type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/**
 * numpy's headers nest two levels (a dict holding a shape tuple). The parser
 * recurses per level, so without a bound a 10 kB header of "(((…" overflows
 * the call stack (a RangeError, not a FusionError); found by fuzzing.
 */
const MAX_LITERAL_DEPTH = 32;

/**
 * A parser for the small subset of Python literals numpy writes in headers:
 * dicts, tuples/lists, quoted strings, integers (an old `L` suffix allowed),
 * True, False and None.
 */
class PyLiteralParser {
  private pos = 0;
  private depth = 0;
  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  parse(): PyValue {
    const value = this.value();
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail(`unexpected ${JSON.stringify(this.text.slice(this.pos, this.pos + 10))}`);
    return value;
  }

  private fail(problem: string): never {
    throw malformed(this.source, `npy header is not a valid Python literal (${problem} at offset ${this.pos})`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private value(): PyValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{' || c === '(' || c === '[') {
      if (this.depth >= MAX_LITERAL_DEPTH) this.fail(`nesting deeper than ${MAX_LITERAL_DEPTH} levels`);
      this.depth++;
      const nested = c === '{' ? this.dict() : this.sequence(c === '(' ? ')' : ']');
      this.depth--;
      return nested;
    }
    if (c === "'" || c === '"') return this.string(c);
    const word = /^(True|False|None|-?\d+L?)/.exec(this.text.slice(this.pos));
    if (word === null) this.fail(c === undefined ? 'unexpected end' : `unexpected ${JSON.stringify(c)}`);
    this.pos += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    if (word[0] === 'None') return null;
    return Number(word[0].replace('L', ''));
  }

  private string(quote: string): string {
    const end = this.text.indexOf(quote, this.pos + 1);
    if (end < 0) this.fail('unterminated string');
    const s = this.text.slice(this.pos + 1, end);
    if (s.includes('\\')) this.fail('escapes in strings are not supported');
    this.pos = end + 1;
    return s;
  }

  private sequence(close: string): PyValue[] {
    this.pos++;
    const items: PyValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) break;
      items.push(this.value());
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== close) this.fail(`expected "," or "${close}"`);
    }
    this.pos++;
    return items;
  }

  private dict(): Record<string, PyValue> {
    this.pos++;
    const out: Record<string, PyValue> = Object.create(null);
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') break;
      const key = this.value();
      if (typeof key !== 'string') this.fail('dict keys must be strings');
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      if (key in out) this.fail(`duplicate key ${JSON.stringify(key)}`);
      out[key] = this.value();
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') this.fail('expected "," or "}"');
    }
    this.pos++;
    return out;
  }
}

// ------------------------------------------------ header

/** Item size for the shape check; unknown descrs are refused later, by name. */
function dtypeSizeOfDescr(descr: string): number {
  const dtype = DESCRS[descr];
  return dtype === undefined ? 1 : dtypeSize(dtype);
}

interface NpyHeader {
  descr: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Offset of the array data from the start of the file. */
  dataStart: number;
}

function parseNpyHeader(bytes: Uint8Array, source: string, maxHeaderBytes: number): NpyHeader {
  if (bytes.byteLength < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw malformed(source, 'not an .npy file (bad magic)');
  const major = bytes[6];
  const minor = bytes[7];
  if (![1, 2, 3].includes(major) || minor !== 0) {
    throw new FusionError('UNSUPPORTED', `${source}: .npy format version ${major}.${minor} is not supported (1.0, 2.0, 3.0 are)`, {
      path: source,
    });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.byteLength < 8 + lengthBytes) throw malformed(source, 'file is truncated inside the header length');
  const headerLength = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const headerStart = 8 + lengthBytes;
  if (headerLength > maxHeaderBytes) {
    throw malformed(source, `npy header length ${headerLength} exceeds the limit of ${maxHeaderBytes} bytes`);
  }
  if (bytes.byteLength < headerStart + headerLength) {
    throw malformed(source, `file is truncated: the npy header needs ${headerLength} bytes, the file has ${bytes.byteLength - headerStart}`);
  }
  const headerBytes = bytes.subarray(headerStart, headerStart + headerLength);
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(headerBytes);
  } catch {
    throw malformed(source, 'npy header is not valid UTF-8');
  }
  const dict = new PyLiteralParser(text, source).parse();
  if (typeof dict !== 'object' || dict === null || Array.isArray(dict)) throw malformed(source, 'npy header is not a dict');
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!(key in dict)) throw malformed(source, `npy header is missing '${key}'`);
  }
  const { descr, fortran_order: fortranOrder, shape } = dict;
  if (typeof descr !== 'string') throw malformed(source, `npy header 'descr' must be a string, got ${JSON.stringify(descr)}`);
  if (typeof fortranOrder !== 'boolean') throw malformed(source, `npy header 'fortran_order' must be True or False`);
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw malformed(source, `npy header 'shape' must be a tuple of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const dims = shape as number[];
  // A zero dimension makes the product 0 however large the others are, so
  // check the non-zero dimensions: a shape numpy could not allocate (its
  // byte count is not a safe integer) is refused like numpy refuses it,
  // instead of passing later checks as an empty array with absurd dims.
  const nonZeroBytes = dims.reduce((a, d) => (d === 0 ? a : a * d), 1) * dtypeSizeOfDescr(descr);
  if (!Number.isSafeInteger(nonZeroBytes)) {
    throw malformed(source, `npy header 'shape' (${dims.join(', ')}) describes more bytes than any file can hold`);
  }
  // Fortran and C order coincide for 0-D and 1-D arrays, so only refuse the ambiguous case.
  if (fortranOrder && dims.length > 1) {
    throw new FusionError(
      'UNSUPPORTED',
      `${source}: Fortran-order (column-major) arrays are not supported; save with np.save(path, np.ascontiguousarray(a))`,
      { path: source },
    );
  }
  const dtype = DESCRS[descr];
  if (dtype === undefined) {
    const why = descr.startsWith('>') ? 'big-endian data is not supported' : 'this dtype is not supported';
    throw new FusionError('UNSUPPORTED', `${source}: npy dtype '${descr}': ${why} (supported: <f4, <f8, |u1, <i4, <i8)`, {
      path: source,
      dtype: descr,
    });
  }
  return { descr, dtype, shape: dims, dataStart: headerStart + headerLength };
}

// ------------------------------------------------ reading

/**
 * Parses a whole .npy file in memory. The data length must match the header
 * exactly (numpy would ignore trailing bytes; we report them, since they
 * mean the file is not what it claims).
 */
export function parseNpy(bytes: Uint8Array, source = '.npy data', options: NpyReadOptions = {}): NpyArray {
  return sliceNpy(bytes, parseNpyHeader(bytes, source, options.maxHeaderBytes ?? DEFAULT_MAX_NPY_HEADER_BYTES), source, options);
}

function sliceNpy(bytes: Uint8Array, header: NpyHeader, source: string, limits: ReadLimits): NpyArray {
  const { shape, dtype } = header;
  const declaredCount = shape.length === 0 ? 1 : shape[0];
  const itemShape = shape.slice(1);
  const perItem = itemShape.reduce((a, b) => a * b, 1);
  const count = shape.length === 0 ? 1 : samplesToRead(declaredCount, limits);
  checkElementBudget(source, count, perItem, limits);
  const needed = count * perItem * dtypeSize(dtype);
  const available = bytes.byteLength - header.dataStart;
  if (available < needed) {
    throw malformed(source, `file is truncated: shape (${shape.join(', ')}) of ${header.descr} needs ${needed} data bytes, the file has ${available}`);
  }
  if (count === declaredCount && available > needed) {
    throw malformed(source, `file has ${available - needed} trailing bytes after the array data`);
  }
  return {
    descr: header.descr,
    dtype,
    shape: shape.length === 0 ? [] : [count, ...itemShape],
    bytes: bytes.subarray(header.dataStart, header.dataStart + needed),
    declaredCount,
  };
}

/** Reads an .npy file (optionally gzipped), only as far as `limit` needs. */
export async function readNpy(path: string, options: NpyReadOptions = {}): Promise<NpyArray> {
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_NPY_HEADER_BYTES;
  const head = await readFilePrefix(path, 12 + maxHeaderBytes);
  const header = parseNpyHeader(head.bytes, path, maxHeaderBytes);
  const perItem = header.shape.slice(1).reduce((a, b) => a * b, 1) * dtypeSize(header.dtype);
  const count = header.shape.length === 0 ? 1 : samplesToRead(header.shape[0], options);
  checkElementBudget(path, count, perItem / dtypeSize(header.dtype), options);
  const needed = header.dataStart + count * perItem;
  // One byte more than needed, so trailing bytes after a fully read array are seen.
  const body = await readFilePrefix(path, needed + 1);
  return sliceNpy(body.bytes, header, path, options);
}
