/**
 * Element types of the safetensors format and their conversion to the two
 * host types the engine uses: Float32Array (weights, images) and Int32Array
 * (class labels).
 *
 * All decoding goes through a DataView with explicit little-endian reads, so
 * it does not depend on the host's byte order nor on the tensor's byte offset
 * being aligned inside the file (our writer keeps the caller's tensor order,
 * which does not guarantee alignment).
 */
import { FusionError } from './errors.ts';

/** Every dtype the safetensors specification defines, with its element size. */
export const SAFETENSORS_DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_SIZES;

/** The dtypes this code can decode; the others parse but cannot be read. */
export const READABLE_DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'I8'] as const;
export type ReadableDtype = (typeof READABLE_DTYPES)[number];

export const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64'];
export const INTEGER_DTYPES: readonly SafetensorsDtype[] = ['I64', 'I32', 'U8', 'I8'];

export function isSafetensorsDtype(v: unknown): v is SafetensorsDtype {
  return typeof v === 'string' && Object.hasOwn(SAFETENSORS_DTYPE_SIZES, v);
}

export function isReadableDtype(v: string): v is ReadableDtype {
  return (READABLE_DTYPES as readonly string[]).includes(v);
}

export function dtypeSize(dtype: SafetensorsDtype): number {
  return SAFETENSORS_DTYPE_SIZES[dtype];
}

/** A tensor as stored: dtype, shape and its little-endian bytes (a view, not a copy). */
export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  bytes: Uint8Array;
}

/** The decoded element array of each readable dtype. */
export type TypedData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function elementCount(raw: RawTensor): number {
  return raw.bytes.byteLength / dtypeSize(raw.dtype);
}

/**
 * IEEE 754 binary16 → number. Handles subnormals (exponent 0: value is
 * mantissa · 2^-24), ±0, ±Inf and NaN (exponent 31).
 */
export function f16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 → number: bfloat16 is the top half of a binary32, so shift it back in place. */
export function bf16ToNumber(bits: number): number {
  const scratch = new DataView(new ArrayBuffer(4));
  scratch.setUint32(0, (bits & 0xffff) << 16);
  return scratch.getFloat32(0);
}

function unsupported(raw: RawTensor, name: string, why: string): FusionError {
  return new FusionError('UNSUPPORTED', `tensor ${name} has dtype ${raw.dtype}, ${why}`, {
    tensor: name,
    dtype: raw.dtype,
  });
}

/**
 * Decodes a readable dtype into its natural typed array (I64 stays BigInt64
 * so no value is silently rounded). Throws UNSUPPORTED naming the tensor for
 * the dtypes the spec defines but this code does not read (BOOL, U16, F8…).
 */
export function decodeTensor(raw: RawTensor, name: string): TypedData {
  const n = elementCount(raw);
  const dv = view(raw.bytes);
  switch (raw.dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToNumber(dv.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const scratch = new Uint32Array(1);
      const asFloat = new Float32Array(scratch.buffer);
      for (let i = 0; i < n; i++) {
        scratch[0] = dv.getUint16(2 * i, true) << 16;
        out[i] = asFloat[0];
      }
      return out;
    }
    case 'F64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    case 'I64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getBigInt64(8 * i, true);
      return out;
    }
    case 'I32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      return out;
    }
    case 'U8':
      return Uint8Array.from(raw.bytes);
    case 'I8':
      return new Int8Array(Uint8Array.from(raw.bytes).buffer);
    default:
      throw unsupported(raw, name, `which cannot be read (readable dtypes: ${READABLE_DTYPES.join(', ')})`);
  }
}

export interface ToFloat32Options {
  /**
   * How integer dtypes are treated. 'reject' (the default, right for model
   * weights) throws UNSUPPORTED; 'cast' converts values as they are;
   * 'image' converts U8 to [0, 1] by dividing by 255 (torchvision's ToTensor
   * convention) and casts the other integer dtypes.
   */
  integers?: 'reject' | 'cast' | 'image';
}

/** Converts a float tensor (F32, F16, BF16, F64) to float32; see ToFloat32Options for integers. */
export function toFloat32(raw: RawTensor, name: string, options: ToFloat32Options = {}): Float32Array {
  const integers = options.integers ?? 'reject';
  if (!FLOAT_DTYPES.includes(raw.dtype) && integers === 'reject') {
    throw unsupported(raw, name, 'but a float tensor (F32, F16, BF16 or F64) is needed');
  }
  const data = decodeTensor(raw, name);
  if (data instanceof Float32Array) return data;
  const out = new Float32Array(data.length);
  if (data instanceof BigInt64Array) {
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  } else if (data instanceof Uint8Array && integers === 'image') {
    for (let i = 0; i < data.length; i++) out[i] = data[i] / 255;
  } else {
    out.set(data);
  }
  return out;
}

/**
 * Converts an integer tensor to class labels: every value must be a
 * non-negative integer that fits in int32. Float dtypes are refused rather
 * than rounded, because a float "label" usually means the wrong tensor.
 */
export function toInt32Labels(raw: RawTensor, name: string): Int32Array {
  if (!INTEGER_DTYPES.includes(raw.dtype)) {
    throw unsupported(raw, name, 'but labels must be integers (I64, I32, U8 or I8)');
  }
  const data = decodeTensor(raw, name);
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    const asNumber = typeof v === 'bigint' ? (v <= 0x7fffffffn && v >= 0n ? Number(v) : -1) : v;
    if (asNumber < 0) {
      throw new FusionError('INVALID_ARGUMENT', `tensor ${name} holds label ${v} at index ${i}; labels must be in [0, 2^31)`, {
        tensor: name,
        index: i,
      });
    }
    out[i] = asNumber;
  }
  return out;
}
