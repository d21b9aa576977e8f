/**
 * Fashion-MNIST from the Debian package `dataset-fashion-mnist`, which
 * installs the original gzipped IDX files under /usr/share/datasets/fashion-mnist.
 * 60,000 train and 10,000 test images, 28×28 grayscale, 10 classes.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { FusionError } from '@clafusion/model-format/errors';
import { type Dataset, type ReadLimits } from './dataset.ts';
import { readIdxPair } from './idx-pair.ts';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const FILES = {
  train: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'],
  test: ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
} as const;

export async function loadFashionMnist(split: 'train' | 'test', limits: ReadLimits = {}, dir = FASHION_MNIST_DIR): Promise<Dataset> {
  const [images, labels] = FILES[split].map((f) => join(dir, f));
  for (const path of [images, labels]) {
    try {
      await access(path);
    } catch {
      throw new FusionError(
        'UNSUPPORTED',
        `fashion-mnist is not installed: ${path} is missing; install it with \`apt-get install dataset-fashion-mnist\``,
        { path },
      );
    }
  }
  return readIdxPair(images, labels, limits);
}
