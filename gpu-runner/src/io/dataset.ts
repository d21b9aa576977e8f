/**
 * The in-memory dataset every reader produces, and the checks and limits
 * they share.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { type Tensor32, assertFinite, numel, shapeString } from '@clafusion/model-format/tensor';

export interface Dataset {
  /** [N, C, H, W] for images (NCHW, the PyTorch layout), [N, D] for flat features. */
  x: Tensor32;
  /** One class label per sample, when the source has labels. */
  y?: Int32Array;
}

/**
 * Default bound on the number of float32 elements a reader will allocate for
 * `x` (2^28 floats = 1 GiB), checked against the header before reading.
 * Fashion-MNIST's training set is 47M elements.
 */
export const DEFAULT_MAX_ELEMENTS = 2 ** 28;

export interface ReadLimits {
  /** Read only the first `limit` samples. */
  limit?: number;
  /** Refuse sources whose `x` would exceed this many elements (after `limit`). */
  maxElements?: number;
}

/** Number of samples to read: the whole source, or the first `limit`. */
export function samplesToRead(available: number, limits: ReadLimits): number {
  const { limit } = limits;
  if (limit === undefined) return available;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new FusionError('INVALID_ARGUMENT', `limit must be a non-negative integer, got ${limit}`, { field: 'limit' });
  }
  return Math.min(limit, available);
}

/** Throws before allocation when a source would need more than maxElements floats. */
export function checkElementBudget(source: string, samples: number, perSample: number, limits: ReadLimits): void {
  const max = limits.maxElements ?? DEFAULT_MAX_ELEMENTS;
  const needed = samples * perSample;
  if (needed > max) {
    throw new FusionError(
      'UNSUPPORTED',
      `${source}: ${samples} samples of ${perSample} values (${needed} elements) exceed the limit of ${max}; pass a smaller limit`,
      { path: source, elements: needed, maxElements: max },
    );
  }
}

/** Checks the pieces of a dataset agree and `x` is finite; `source` prefixes messages. */
export function checkDataset(dataset: Dataset, source: string): Dataset {
  const { x, y } = dataset;
  if (x.shape.length < 1) {
    throw new FusionError('SHAPE_MISMATCH', `${source}: x must have a sample axis, got shape ${shapeString(x.shape)}`, {
      tensor: 'x',
    });
  }
  if (numel(x.shape) !== x.data.length) {
    throw new FusionError('SHAPE_MISMATCH', `${source}: x has ${x.data.length} values for shape ${shapeString(x.shape)}`, {
      tensor: 'x',
    });
  }
  if (y !== undefined && y.length !== x.shape[0]) {
    throw new FusionError('SHAPE_MISMATCH', `${source}: y has ${y.length} labels but x has ${x.shape[0]} samples`, {
      tensor: 'y',
    });
  }
  assertFinite(x.data, `${source} x`);
  return dataset;
}
