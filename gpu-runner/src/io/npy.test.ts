import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTensor } from '@clafusion/model-format/dtypes';
import { parseNpy, readNpy } from './npy.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clafusion-npy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes an .npy file the way numpy does: header padded with spaces and a newline to a multiple of 64. */
function npy(version: 1 | 2 | 3, header: string, data: ArrayBufferView): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const text = header + ' '.repeat((64 - ((prefix + header.length + 1) % 64)) % 64) + '\n';
  const head = new TextEncoder().encode(text);
  const out = new Uint8Array(prefix + head.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, head.length, true);
  else dv.setUint32(8, head.length, true);
  out.set(head, prefix);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), prefix + head.length);
  return out;
}

const dict = (descr: string, shape: string, fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;

describe('npy', () => {
  const dtypes = [
    ['<f4', 'F32', new Float32Array([1.5, -2, 0.25, 8, 0, -0.5])],
    ['<f8', 'F64', new Float64Array([1e-300, 2, 3, 4, 5, 6])],
    ['|u1', 'U8', new Uint8Array([0, 1, 2, 253, 254, 255])],
    ['<i4', 'I32', new Int32Array([-1, 2, -3, 4, 2 ** 31 - 1, -(2 ** 31)])],
    ['<i8', 'I64', new BigInt64Array([-1n, 2n, 3n, 2n ** 62n, 5n, 6n])],
  ] as const;

  for (const version of [1, 2, 3] as const) {
    it.each(dtypes)(`version ${version}.0, %s`, (descr, dtype, values) => {
      const parsed = parseNpy(npy(version, dict(descr, '(2, 3)'), values));
      expect(parsed.dtype).toBe(dtype);
      expect(parsed.descr).toBe(descr);
      expect(parsed.shape).toEqual([2, 3]);
      expect(decodeTensor(parsed, 'a')).toEqual(values);
    });
  }

  it('parses header variants: 1-D and 0-D shapes, double quotes, key order, version 3 UTF-8', () => {
    expect(parseNpy(npy(1, "{'shape': (4,), 'fortran_order': False, 'descr': '<f4'}", new Float32Array(4))).shape).toEqual([4]);
    expect(parseNpy(npy(1, '{"descr": "<i8", "fortran_order": False, "shape": ()}', new BigInt64Array([3n]))).shape).toEqual([]);
    expect(parseNpy(npy(1, dict('<i4', '(3L,)'), new Int32Array(3))).shape).toEqual([3]);
    expect(parseNpy(npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'note': 'é'}", new Float32Array(1))).shape).toEqual([1]);
    // Fortran order is the same layout for a 1-D array.
    expect(parseNpy(npy(1, dict('<f4', '(2,)', 'True'), new Float32Array(2))).shape).toEqual([2]);
  });

  it('Fortran order is UNSUPPORTED with advice', () => {
    expect(() => parseNpy(npy(1, dict('<f4', '(2, 2)', 'True'), new Float32Array(4)), 'a.npy')).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining('a.npy: Fortran-order') }),
    );
  });

  it('big-endian and other dtypes are UNSUPPORTED', () => {
    expect(() => parseNpy(npy(1, dict('>f4', '(1,)'), new Float32Array(1)))).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining('big-endian') }),
    );
    expect(() => parseNpy(npy(1, dict('<c8', '(1,)'), new Float64Array(1)))).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining("'<c8'") }),
    );
    const v4 = npy(1, dict('<f4', '(1,)'), new Float32Array(1));
    v4[6] = 4;
    expect(() => parseNpy(v4)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining('version 4.0') }));
  });

  it.each([
    ['bad magic', new TextEncoder().encode('PK\x03\x04 this is a zip file'), 'bad magic'],
    ['truncated header', npy(1, dict('<f4', '(1,)'), new Float32Array(1)).subarray(0, 30), 'truncated'],
    ['truncated data', npy(1, dict('<f4', '(4,)'), new Float32Array(3)), 'needs 16 data bytes, the file has 12'],
    ['trailing data', npy(1, dict('<f4', '(2,)'), new Float32Array(3)), '4 trailing bytes'],
    ['missing key', npy(1, "{'descr': '<f4', 'shape': (1,)}", new Float32Array(1)), "missing 'fortran_order'"],
    ['bad shape', npy(1, dict('<f4', '(-1,)'), new Float32Array(1)), "'shape' must be a tuple of non-negative integers"],
    ['not a literal', npy(1, "{'descr': <f4}", new Float32Array(1)), 'not a valid Python literal'],
    ['duplicate key', npy(1, "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", new Float32Array(1)), 'duplicate key'],
    ['not a dict', npy(1, '(1, 2)', new Float32Array(1)), 'not a dict'],
  ])('%s is MALFORMED_FILE', (_name, bytes, fragment) => {
    expect(() => parseNpy(bytes, 'x.npy')).toThrow(expect.objectContaining({ code: 'MALFORMED_FILE', message: expect.stringContaining(fragment) }));
  });

  it('enforces the header size limit before reading the header', () => {
    const bytes = npy(2, dict('<f4', '(1,)'), new Float32Array(1));
    new DataView(bytes.buffer).setUint32(8, 2 ** 31, true);
    expect(() => parseNpy(bytes)).toThrow(expect.objectContaining({ code: 'MALFORMED_FILE', message: expect.stringContaining('exceeds the limit of 10000') }));
    expect(() => parseNpy(npy(1, dict('<f4', '(1,)'), new Float32Array(1)), 'a', { maxHeaderBytes: 16 })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('limit of 16') }),
    );
  });

  it('readNpy reads files, gzipped or not, and applies limit along the first axis', async () => {
    const values = Float32Array.from({ length: 12 }, (_, i) => i);
    const bytes = npy(1, dict('<f4', '(4, 3)'), values);
    const plain = join(dir, 'a.npy');
    const gz = join(dir, 'a.npy.gz');
    await writeFile(plain, bytes);
    await writeFile(gz, gzipSync(bytes));
    for (const path of [plain, gz]) {
      expect(decodeTensor(await readNpy(path), 'a')).toEqual(values);
      const limited = await readNpy(path, { limit: 2 });
      expect(limited.shape).toEqual([2, 3]);
      expect(limited.declaredCount).toBe(4);
      expect(decodeTensor(limited, 'a')).toEqual(values.subarray(0, 6));
    }
    const huge = join(dir, 'huge.npy');
    await writeFile(huge, npy(1, dict('<f4', '(100000, 100000, 100)'), new Float32Array(0)));
    await expect(readNpy(huge)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining('exceed the limit') });
  });
});
