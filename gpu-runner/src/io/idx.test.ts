import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readIdxImages, readIdxLabels } from './idx.ts';
import { readIdxPair } from './idx-pair.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clafusion-idx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An IDX ubyte file: magic 0x000008<ndim>, big-endian dims, then the bytes. */
function idx(dims: number[], data: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x800 + dims.length, false);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

// Three 2×3 images with pixel values 0, 51, …; labels 7, 0, 9.
const pixels = Array.from({ length: 18 }, (_, i) => (i * 51) % 256);
const imageFile = idx([3, 2, 3], pixels);
const labelFile = idx([3], [7, 0, 9]);

describe('IDX', () => {
  it.each([
    ['plain', (b: Uint8Array) => b],
    ['gzipped', (b: Uint8Array) => new Uint8Array(gzipSync(b))],
  ])('reads %s images and labels, scaling bytes to [0, 1]', async (kind, encode) => {
    // Names deliberately do not say .gz: detection is by content.
    const images = join(dir, `${kind}-images`);
    const labels = join(dir, `${kind}-labels`);
    await writeFile(images, encode(imageFile));
    await writeFile(labels, encode(labelFile));
    const x = await readIdxImages(images);
    expect(x.shape).toEqual([3, 1, 2, 3]);
    expect(Array.from(x.data)).toEqual(pixels.map((p) => Math.fround(p / 255)));
    expect(Array.from((await readIdxLabels(labels)).labels)).toEqual([7, 0, 9]);
    const limited = await readIdxPair(images, labels, { limit: 2 });
    expect(limited.x.shape).toEqual([2, 1, 2, 3]);
    expect(Array.from(limited.y!)).toEqual([7, 0]);
  });

  it('rejects truncated files, trailing bytes, wrong magic and mismatched counts', async () => {
    const path = join(dir, 'bad');
    await writeFile(path, imageFile.subarray(0, imageFile.length - 1));
    await expect(readIdxImages(path)).rejects.toMatchObject({ code: 'MALFORMED_FILE', message: expect.stringContaining('truncated') });
    await writeFile(path, new Uint8Array(gzipSync(imageFile.subarray(0, 10))));
    await expect(readIdxImages(path)).rejects.toMatchObject({ code: 'MALFORMED_FILE', message: expect.stringContaining('header is truncated') });
    await writeFile(path, new Uint8Array([...imageFile, 0]));
    await expect(readIdxImages(path)).rejects.toMatchObject({ code: 'MALFORMED_FILE', message: expect.stringContaining('trailing bytes') });
    await writeFile(path, labelFile);
    await expect(readIdxImages(path)).rejects.toMatchObject({ code: 'MALFORMED_FILE', message: expect.stringContaining('0x00000803') });
    await writeFile(path, new TextEncoder().encode('hello world, not idx'));
    await expect(readIdxLabels(path)).rejects.toMatchObject({ code: 'MALFORMED_FILE', message: expect.stringContaining('not an IDX file') });
    const floats = idx([1], [0, 0, 0, 0]);
    floats[2] = 0x0d;
    await writeFile(path, floats);
    await expect(readIdxLabels(path)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining('0xd') });
    // A gzip header followed by a deflate block of the reserved type 11.
    await writeFile(path, new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]));
    await expect(readIdxLabels(path)).rejects.toMatchObject({ code: 'MALFORMED_FILE', message: expect.stringContaining('gzip') });
    const images = join(dir, 'pair-images');
    const labels = join(dir, 'pair-labels');
    await writeFile(images, imageFile);
    await writeFile(labels, idx([2], [1, 2]));
    await expect(readIdxPair(images, labels)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', message: expect.stringContaining('declares 3 images') });
    await expect(readIdxImages(join(dir, 'absent'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('no such file') });
  });

  it('checks the element budget against the header before reading the data', async () => {
    const path = join(dir, 'huge');
    // Claims 2^32−1 images of 2^16×2^16 but holds nothing.
    await writeFile(path, idx([0xffffffff, 0x10000, 0x10000], []));
    await expect(readIdxImages(path)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining('exceed the limit') });
    await expect(readIdxImages(path, { limit: 1 })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });
});
