/**
 * The nastiest inputs the fuzzers (fuzz.test.ts) and a hostile reading of
 * each format produce, kept as explicit regression cases: each must fail
 * with a FusionError of the given code, quickly and without allocating for
 * what the header claims.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FusionErrorCode } from '@clafusion/model-format/errors';
import { FusionError } from '@clafusion/model-format/errors';
import { parseCifar10Batch } from './cifar10.ts';
import { idxBytes, npyBytes, safetensorsBytes, withLengthPrefix } from './fuzz-helpers.ts';
import { readIdxImages, readIdxLabels } from './idx.ts';
import { parseNpy, readNpy } from './npy.ts';
import { parseSafetensors, readSafetensorsHeader } from '@clafusion/model-format/safetensors';

const HUGE = '9007199254740991';
const f32 = (shape: string, offsets = '[0,0]') => `{"t":{"dtype":"F32","shape":${shape},"data_offsets":${offsets}}}`;

function expectCode(read: () => unknown, code: FusionErrorCode, message?: RegExp): void {
  let thrown: unknown;
  try {
    read();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a FusionError').toBeInstanceOf(FusionError);
  expect((thrown as FusionError).code).toBe(code);
  if (message) expect((thrown as FusionError).message).toMatch(message);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clafusion-corpus-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('safetensors corpus', () => {
  const valid = safetensorsBytes(f32('[2]', '[0,8]'), new Uint8Array(8));
  it.each([
    ['length prefix 2^64 - 1', withLengthPrefix(valid, 2n ** 64n - 1n), /exceeds the limit/],
    ['length prefix 2^53 + 1 (would round in a double)', withLengthPrefix(valid, 2n ** 53n + 1n), /exceeds the limit/],
    ['length prefix past the end of the file', withLengthPrefix(valid, 10_000n), /truncated/],
    ['7 bytes', new Uint8Array(7), /truncated/],
    ['a shape nested 500,000 arrays deep (JSON.stringify would overflow)', safetensorsBytes(f32(`${'['.repeat(500_000)}${']'.repeat(500_000)}`)), /shape\[0\]/],
    ['data_offsets nested 500,000 deep', safetensorsBytes(f32('[]', `[${'['.repeat(500_000)}${']'.repeat(500_000)}, 0]`)), /data_offsets/],
    ['an object nested 200,000 deep', safetensorsBytes(`${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}`), /missing/],
    ['a shape of 2^53 - 1 six times and a zero (claims 0 elements, overflows every sub-product)', safetensorsBytes(f32(`[${`${HUGE},`.repeat(6)}0]`)), /too many elements/],
    ['a zero then 2^53 - 1 six times', safetensorsBytes(f32(`[0${`,${HUGE}`.repeat(6)}]`)), /too many elements/],
    ['2^30 × 2^30 F32 (4 EiB) claimed for 8 bytes', safetensorsBytes(f32('[1073741824,1073741824]', '[0,8]'), new Uint8Array(8)), /too many elements/],
    ['2^20 × 2^20 F32 (4 TiB) claimed for 8 bytes', safetensorsBytes(f32('[1048576,1048576]', '[0,8]'), new Uint8Array(8)), /span 8 bytes/],
    ['numbers beyond a double (1e999)', safetensorsBytes(f32('[1e999]')), /non-negative integer/],
    ['offsets at 2^64', safetensorsBytes(f32('[0]', '[18446744073709551616,18446744073709551616]')), /non-negative integers/],
    ['negative offsets', safetensorsBytes(f32('[0]', '[-8,0]')), /non-negative integers/],
    ['fractional dims', safetensorsBytes(f32('[0.5]')), /non-negative integer/],
    ['duplicate tensor names', safetensorsBytes('{"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'), /duplicate key/],
    ['duplicate keys inside an entry', safetensorsBytes('{"t":{"dtype":"F32","dtype":"F64","shape":[0],"data_offsets":[0,0]}}'), /duplicate key/],
    ['a __proto__ tensor that is not an object', safetensorsBytes('{"__proto__":7}'), /__proto__/],
    ['overlapping tensors', safetensorsBytes('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)), /overlap/],
    ['invalid UTF-8 in the header', safetensorsBytes('{"\udcff":1}').map((b, i) => (i === 10 ? 0xff : b)), /UTF-8|JSON/],
    ['a header that is JSON but not an object', safetensorsBytes('[1,2,3]'), /must be a JSON object/],
  ])('%s', (_label, bytes, message) => {
    expectCode(() => parseSafetensors(bytes), 'MALFORMED_FILE', message);
  });

  it('readSafetensorsHeader refuses a 2^60-byte header claim with only the 8-byte prefix read', async () => {
    const path = join(dir, 'claims-2^60.safetensors');
    await writeFile(path, withLengthPrefix(valid, 2n ** 60n));
    await expect(readSafetensorsHeader(path)).rejects.toMatchObject({ code: 'MALFORMED_FILE', message: expect.stringMatching(/exceeds the limit/) });
  });
});

describe('npy corpus', () => {
  const header = (shape: string, descr = '<f4') => `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  it.each([
    ['9,000 nested tuples (overflowed the stack before the depth bound)', npyBytes('('.repeat(9_000)), /nesting deeper/],
    ['1,600 nested dicts (just under the header limit)', npyBytes("{'a': ".repeat(1_600)), /nesting deeper/],
    ['9,000 nested dicts (over the header limit)', npyBytes("{'a': ".repeat(9_000)), /exceeds the limit/],
    ['a zero then 26 dims of 2^53 - 1 (passed as an empty array before)', npyBytes(header(`(0${`, ${HUGE}`.repeat(26)})`)), /more bytes than any file/],
    ['dims of 2^31 × 2^31 × 8 bytes', npyBytes(header('(2147483648, 2147483648)', '<f8')), /more bytes than any file|truncated|exceed/],
    ['a 40-digit dim', npyBytes(header(`(${'9'.repeat(40)},)`)), /non-negative integers/],
    ['a negative dim', npyBytes(header('(-1,)')), /non-negative integers/],
    ['duplicate descr', npyBytes(`{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (), }`), /duplicate key/],
    ['an unterminated string', npyBytes("{'descr"), /unterminated/],
    ['a header length past the file (format 2.0, 0xffffffff)', npyBytes(header('(1,)'), new Uint8Array(0), 2).map((b, i) => (i >= 8 && i < 12 ? 0xff : b)), /exceeds the limit/],
  ])('%s', (_label, bytes, message) => {
    expectCode(() => parseNpy(bytes), 'MALFORMED_FILE', message);
  });

  it('readNpy refuses 2^20 × 2^20 float32 (4 TiB) from a gzipped 100-byte file before allocating', async () => {
    const path = join(dir, 'huge.npy.gz');
    await writeFile(path, gzipSync(npyBytes(header('(1048576, 1048576)'))));
    const before = process.memoryUsage().arrayBuffers;
    await expect(readNpy(path)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/exceed the limit/) });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('IDX and CIFAR-10 corpus', () => {
  it('an IDX header claiming (2^32 - 1)^3 pixels is refused by the element budget, plain or gzipped', async () => {
    for (const [name, bytes] of [
      ['max.idx3', idxBytes([2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1])],
      ['max.idx3.gz', gzipSync(idxBytes([2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1]))],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, bytes);
      await expect(readIdxImages(path)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    }
  });

  it('IDX files with the wrong dimension count, a foreign type byte or trailing bytes', async () => {
    const cases: [Uint8Array, FusionErrorCode][] = [
      [idxBytes([2, 2]), 'MALFORMED_FILE'],
      [idxBytes([1, 1, 1], new Uint8Array([0, 7])), 'MALFORMED_FILE'],
      [new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 0]), 'UNSUPPORTED'],
      [new Uint8Array([0x1f, 0x8b, 8, 0, 0]), 'MALFORMED_FILE'],
    ];
    for (const [i, [bytes, code]] of cases.entries()) {
      const path = join(dir, `case-${i}.idx1`);
      await writeFile(path, bytes);
      await expect(readIdxLabels(path)).rejects.toMatchObject({ code });
    }
  });

  it('CIFAR-10: a label byte of 255 and a partial record', () => {
    const record = new Uint8Array(3073);
    record[0] = 255;
    expectCode(() => parseCifar10Batch(record, 'bad-label.bin'), 'MALFORMED_FILE', /label 255/);
    expectCode(() => parseCifar10Batch(new Uint8Array(3074), 'partial.bin'), 'MALFORMED_FILE', /whole number/);
  });
});
