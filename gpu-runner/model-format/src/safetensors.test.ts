import { mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusionError } from './errors.ts';
import { decodeTensor, toFloat32 } from './dtypes.ts';
import {
  parseSafetensors,
  readSafetensorsFile,
  readSafetensorsHeader,
  serializeSafetensors,
  writeSafetensorsFile,
} from './safetensors.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clafusion-st-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Builds a file from raw header text (not padded) and a data section. */
function fileFrom(headerText: string, data: Uint8Array | number = 0, declaredLength?: number): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const dataBytes = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + header.byteLength + dataBytes.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? header.byteLength), true);
  out.set(header, 8);
  out.set(dataBytes, 8 + header.byteLength);
  return out;
}

function expectFusionError(fn: () => unknown, code: string, ...fragments: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(FusionError);
  const e = caught as FusionError;
  expect(e.code).toBe(code);
  for (const f of fragments) expect(e.message).toContain(f);
}

describe('serializeSafetensors', () => {
  it('matches the reference implementation byte for byte', () => {
    // safetensors/src/tensor.rs, test_serialization.
    const out = serializeSafetensors([['attn.0', { shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }]]);
    expect(Array.from(out)).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70,
      51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111,
      102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0,
      0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it('pads the header with spaces to a multiple of 8 (reference test_empty)', () => {
    expect(Array.from(serializeSafetensors([]))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const withMeta = serializeSafetensors([], { framework: 'pt' });
    expect(new TextDecoder().decode(withMeta.subarray(8))).toBe('{"__metadata__":{"framework":"pt"}}     ');
    expect(withMeta[0]).toBe(40);
  });

  it('keeps the given tensor order, even for integer-like names, and sorts metadata keys', () => {
    const bytes = serializeSafetensors(
      [
        ['b', { shape: [1], data: [1] }],
        ['10', { shape: [1], data: [2] }],
        ['a', { shape: [1], data: [3] }],
      ],
      { z: '1', a: '2' },
    );
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))));
    expect(header.trimEnd()).toBe(
      '{"__metadata__":{"a":"2","z":"1"},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
        '"10":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
    );
    expect([...parseSafetensors(bytes).tensors.keys()]).toEqual(['b', '10', 'a']);
  });

  it('is byte-deterministic and round-trips F32, I32 and I64 with metadata', () => {
    const tensors = [
      ['w', { shape: [2, 2], data: new Float32Array([1.5, -0, Infinity, 3e-42]) }],
      ['labels32', { dtype: 'I32', shape: [3], data: new Int32Array([0, 7, -2]) }],
      ['labels64', { dtype: 'I64', shape: [2], data: [9, 2 ** 40] }],
      ['big', { dtype: 'I64', shape: [1], data: new BigInt64Array([-(2n ** 62n)]) }],
      ['empty', { shape: [0, 3], data: new Float32Array(0) }],
    ] as const;
    const a = serializeSafetensors(tensors, { arch: '{"x":1}', note: 'é' });
    const b = serializeSafetensors(tensors, { note: 'é', arch: '{"x":1}' });
    expect(b).toEqual(a);
    const parsed = parseSafetensors(a);
    expect(parsed.metadata).toEqual({ arch: '{"x":1}', note: 'é' });
    const w = toFloat32(parsed.tensors.get('w')!, 'w');
    expect(Object.is(w[1], -0)).toBe(true);
    expect(Array.from(w)).toEqual([1.5, -0, Infinity, Math.fround(3e-42)]);
    expect(decodeTensor(parsed.tensors.get('labels32')!, 'l')).toEqual(new Int32Array([0, 7, -2]));
    expect(decodeTensor(parsed.tensors.get('big')!, 'big')).toEqual(new BigInt64Array([-(2n ** 62n)]));
    expect(parsed.tensors.get('labels64')!.dtype).toBe('I64');
    expect(parsed.tensors.get('empty')!.shape).toEqual([0, 3]);
    // Re-serializing what was read gives the same bytes.
    const again = serializeSafetensors(
      [...parsed.tensors].map(([name, raw]) => {
        if (raw.dtype === 'F32') return [name, { shape: raw.shape, data: toFloat32(raw, name) }] as const;
        if (raw.dtype === 'I32') return [name, { dtype: 'I32', shape: raw.shape, data: new Int32Array(raw.bytes.slice().buffer) }] as const;
        return [name, { dtype: 'I64', shape: raw.shape, data: new BigInt64Array(raw.bytes.slice().buffer) }] as const;
      }),
      parsed.metadata,
    );
    expect(again).toEqual(a);
  });

  it('refuses invalid tensors to write, naming them', () => {
    expectFusionError(() => serializeSafetensors([['w', { shape: [2], data: [1] }]]), 'INVALID_ARGUMENT', 'tensor w', 'do not fill');
    expectFusionError(
      () => serializeSafetensors([['y', { dtype: 'I32', shape: [1], data: [1.5] }]]),
      'INVALID_ARGUMENT',
      'tensor y',
      'not a valid I32',
    );
    expectFusionError(() => serializeSafetensors([['__metadata__', { shape: [0], data: [] }]]), 'INVALID_ARGUMENT', '__metadata__');
    expectFusionError(
      () =>
        serializeSafetensors([
          ['w', { shape: [0], data: [] }],
          ['w', { shape: [0], data: [] }],
        ]),
      'INVALID_ARGUMENT',
      'tensor w is given twice',
    );
    expectFusionError(() => serializeSafetensors([['w', { shape: [-1], data: [] }]]), 'INVALID_ARGUMENT', 'shape[0]');
  });
});

describe('parseSafetensors: malformed files', () => {
  const entry = (dtype: string, shape: unknown, offsets: unknown) =>
    `{"dtype":${JSON.stringify(dtype)},"shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;

  it('file shorter than 8 bytes', () => {
    expectFusionError(() => parseSafetensors(new Uint8Array(5)), 'MALFORMED_FILE', 'truncated', '5 bytes');
  });

  it('header length longer than the file', () => {
    expectFusionError(() => parseSafetensors(fileFrom('{}', 0, 200)), 'MALFORMED_FILE', 'truncated', 'header length 200');
  });

  it('header length over the limit, including lengths beyond 2^53', () => {
    expectFusionError(() => parseSafetensors(fileFrom('{}  ', 0), { maxHeaderBytes: 2 }), 'MALFORMED_FILE', 'exceeds the limit of 2');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n + 1n, true);
    expectFusionError(() => parseSafetensors(huge), 'MALFORMED_FILE', 'exceeds the limit of 100000000');
  });

  it('header that is not UTF-8', () => {
    const bytes = fileFrom('{"a"}');
    bytes[9] = 0xff;
    expectFusionError(() => parseSafetensors(bytes), 'MALFORMED_FILE', 'not valid UTF-8');
  });

  it('invalid JSON', () => {
    expectFusionError(() => parseSafetensors(fileFrom('{"w": ')), 'MALFORMED_FILE', 'not valid JSON');
  });

  it('header that is not an object', () => {
    expectFusionError(() => parseSafetensors(fileFrom('[1, 2]')), 'MALFORMED_FILE', 'must be a JSON object', 'array');
  });

  it('duplicate tensor names and duplicate metadata keys', () => {
    const e = entry('F32', [1], [0, 4]);
    expectFusionError(() => parseSafetensors(fileFrom(`{"w":${e},"w":${e}}`, 4)), 'MALFORMED_FILE', 'duplicate key "w"');
    expectFusionError(
      () => parseSafetensors(fileFrom('{"__metadata__":{"arch":"a","arch":"b"}}')),
      'MALFORMED_FILE',
      'duplicate key "arch" in __metadata__',
    );
  });

  it('bad __metadata__', () => {
    expectFusionError(() => parseSafetensors(fileFrom('{"__metadata__":[]}')), 'MALFORMED_FILE', '__metadata__ must be an object');
    expectFusionError(() => parseSafetensors(fileFrom('{"__metadata__":{"n":3}}')), 'MALFORMED_FILE', '__metadata__.n must be a string');
  });

  it.each(['dtype', 'shape', 'data_offsets'])('entry missing %s', (field) => {
    const full: Record<string, unknown> = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };
    delete full[field];
    expectFusionError(() => parseSafetensors(fileFrom(JSON.stringify({ w: full }), 4)), 'MALFORMED_FILE', 'tensor w', `missing "${field}"`);
  });

  it('entry with wrong types', () => {
    expectFusionError(() => parseSafetensors(fileFrom('{"w":7}')), 'MALFORMED_FILE', 'tensor w', 'must be an object');
    expectFusionError(() => parseSafetensors(fileFrom(`{"w":${entry('F32', 'x', [0, 4])}}`, 4)), 'MALFORMED_FILE', 'tensor w', 'shape must be an array');
    expectFusionError(
      () => parseSafetensors(fileFrom('{"w":{"dtype":5,"shape":[1],"data_offsets":[0,4]}}', 4)),
      'MALFORMED_FILE',
      'tensor w',
      'dtype must be a string',
    );
    expectFusionError(() => parseSafetensors(fileFrom(`{"w":${entry('F32', [1], [0])}}`, 4)), 'MALFORMED_FILE', 'tensor w', 'two integers');
    expectFusionError(() => parseSafetensors(fileFrom(`{"w":${entry('F32', [1], ['0', 4])}}`, 4)), 'MALFORMED_FILE', 'tensor w', 'non-negative integers');
  });

  it('negative and non-integer shape dims', () => {
    expectFusionError(() => parseSafetensors(fileFrom(`{"w":${entry('F32', [2, -1], [0, 0])}}`)), 'MALFORMED_FILE', 'tensor w', 'shape[1]', '-1');
    expectFusionError(() => parseSafetensors(fileFrom(`{"w":${entry('F32', [1.5], [0, 4])}}`, 4)), 'MALFORMED_FILE', 'tensor w', 'shape[0]', '1.5');
  });

  it('shape whose byte size overflows', () => {
    expectFusionError(
      () => parseSafetensors(fileFrom(`{"w":${entry('F32', [2 ** 30, 2 ** 30, 2 ** 30], [0, 4])}}`, 4)),
      'MALFORMED_FILE',
      'tensor w',
      'too many elements',
    );
  });

  it('unknown dtype', () => {
    expectFusionError(() => parseSafetensors(fileFrom(`{"w":${entry('F31', [1], [0, 4])}}`, 4)), 'MALFORMED_FILE', 'tensor w', 'unknown dtype "F31"');
  });

  it('byte length not equal to numel × dtype size', () => {
    expectFusionError(
      () => parseSafetensors(fileFrom(`{"w":${entry('F16', [3], [0, 4])}}`, 4)),
      'MALFORMED_FILE',
      'tensor w',
      'span 4 bytes but shape [3] of F16 needs 6',
    );
  });

  it('offsets that end before they begin', () => {
    expectFusionError(() => parseSafetensors(fileFrom(`{"w":${entry('F32', [0], [4, 0])}}`, 4)), 'MALFORMED_FILE', 'tensor w', 'end before');
  });

  it('offsets out of range (data shorter than the offsets say)', () => {
    expectFusionError(
      () => parseSafetensors(fileFrom(`{"a":${entry('F32', [1], [0, 4])},"b":${entry('F32', [2], [4, 12])}}`, 8)),
      'MALFORMED_FILE',
      'tensor b',
      'out of range',
      'truncated',
    );
  });

  it('overlapping offsets', () => {
    expectFusionError(
      () => parseSafetensors(fileFrom(`{"a":${entry('F32', [2], [0, 8])},"b":${entry('F32', [1], [4, 8])}}`, 8)),
      'MALFORMED_FILE',
      'tensor b',
      'overlap tensor a',
    );
  });

  it('holes between tensors and before the first (the reference rejects them too)', () => {
    expectFusionError(
      () => parseSafetensors(fileFrom(`{"a":${entry('F32', [1], [0, 4])},"b":${entry('F32', [1], [8, 12])}}`, 12)),
      'MALFORMED_FILE',
      'tensor b',
      'hole of 4 bytes after tensor a',
    );
    expectFusionError(
      () => parseSafetensors(fileFrom(`{"a":${entry('F32', [1], [4, 8])}}`, 8)),
      'MALFORMED_FILE',
      'tensor a',
      'start of the data section',
    );
  });

  it('trailing bytes after the last tensor', () => {
    expectFusionError(() => parseSafetensors(fileFrom(`{"a":${entry('F32', [1], [0, 4])}}`, 6)), 'MALFORMED_FILE', '2 trailing bytes', 'a');
  });

  it('known but unreadable dtypes parse, and fail only when decoded', () => {
    const parsed = parseSafetensors(fileFrom(`{"m":${entry('BOOL', [2], [0, 2])}}`, 2));
    expect(() => toFloat32(parsed.tensors.get('m')!, 'm')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
  });

  it('accepts tensors listed out of offset order and returns them in file order', () => {
    const parsed = parseSafetensors(fileFrom(`{"b":${entry('F32', [1], [4, 8])},"a":${entry('F32', [1], [0, 4])}}`, 8));
    expect([...parsed.tensors.keys()]).toEqual(['a', 'b']);
  });
});

describe('files', () => {
  it('writes atomically, leaving no temp file, and reads back', async () => {
    const path = join(dir, 'w.safetensors');
    await writeSafetensorsFile(path, [['w', { shape: [2], data: [1, 2] }]], { k: 'v' });
    await writeSafetensorsFile(path, [['w', { shape: [3], data: [1, 2, 3] }]], { k: 'v2' });
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const parsed = await readSafetensorsFile(path);
    expect(parsed.metadata).toEqual({ k: 'v2' });
    expect(Array.from(toFloat32(parsed.tensors.get('w')!, 'w'))).toEqual([1, 2, 3]);
  });

  it('readSafetensorsHeader reads only the header, from a path or a handle', async () => {
    const path = join(dir, 'h.safetensors');
    const bytes = serializeSafetensors(
      [
        ['fc1.weight', { shape: [2, 3], data: new Float32Array(6) }],
        ['y', { dtype: 'I64', shape: [2], data: [0, 1] }],
      ],
      { arch: 'x' },
    );
    await writeFile(path, bytes);
    const header = await readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ arch: 'x' });
    expect(header.tensors.map((t) => [t.name, t.dtype, t.shape, t.dataOffsets])).toEqual([
      ['fc1.weight', 'F32', [2, 3], [0, 24]],
      ['y', 'I64', [2], [24, 40]],
    ]);
    expect(header.dataStart + header.dataLength).toBe(bytes.byteLength);
    const handle = await open(path, 'r');
    try {
      expect((await readSafetensorsHeader(handle)).tensors).toHaveLength(2);
    } finally {
      await handle.close();
    }
  });

  it('readSafetensorsHeader still detects a truncated data section and a short file', async () => {
    const path = join(dir, 'trunc.safetensors');
    const bytes = serializeSafetensors([['w', { shape: [4], data: new Float32Array(4) }]]);
    await writeFile(path, bytes.subarray(0, bytes.byteLength - 3));
    await expect(readSafetensorsHeader(path)).rejects.toMatchObject({ code: 'MALFORMED_FILE', message: expect.stringContaining('tensor w') });
    await writeFile(path, bytes.subarray(0, 3));
    await expect(readSafetensorsHeader(path)).rejects.toMatchObject({ code: 'MALFORMED_FILE', message: expect.stringContaining('truncated') });
    await writeFile(path, fileFrom('{}', 0, 1000));
    await expect(readSafetensorsHeader(path, { maxHeaderBytes: 100 })).rejects.toMatchObject({
      code: 'MALFORMED_FILE',
      message: expect.stringContaining('limit of 100'),
    });
    expect(await readFile(path)).toHaveLength(10);
  });
});
