/**
 * Input and label checks shared by forward, train and evaluate, plus the
 * host-side batch assembly they use.
 *
 * Inputs arrive as a host tensor [N, ...input] in the PyTorch layout (NCHW
 * for images). Row-major data flattened per sample is already in C,H,W
 * order, so "flattening" is only a reinterpretation of the shape.
 */
import type { Arch } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { type Tensor32, numel, shapeString } from '@clafusion/model-format/tensor';

/** Samples with integer class labels, e.g. a training or test set. */
export interface LabeledData {
  /** [N, ...input]: one row-major sample after another. */
  x: Tensor32;
  /** N labels in [0, classes). */
  y: ArrayLike<number>;
}

export interface InputLayout {
  /** Number of samples. */
  n: number;
  /** Values per sample (the flattened input size). */
  features: number;
}

/**
 * Checks that `x` holds whole samples of the architecture's input and returns
 * the sample count. The per-sample shape may be the architecture's own
 * (e.g. [1, 28, 28]) or any shape with the same number of values (e.g. [784]):
 * both describe the same C,H,W-ordered vector.
 */
export function inputLayout(arch: Arch, x: Tensor32, what = 'x'): InputLayout {
  const features = numel(arch.input);
  if (x.shape.length < 2) {
    throw new FusionError('SHAPE_MISMATCH', `${what} must have shape [N, ...input], got ${shapeString(x.shape)}`, {
      tensor: what,
      shape: x.shape,
    });
  }
  const n = x.shape[0];
  const perSample = numel(x.shape.slice(1));
  if (perSample !== features) {
    throw new FusionError(
      'SHAPE_MISMATCH',
      `${what} has ${perSample} values per sample (shape ${shapeString(x.shape)}) but the architecture's input ` +
        `${shapeString(arch.input)} has ${features}`,
      { tensor: what, shape: x.shape, expected: arch.input },
    );
  }
  if (x.data.length !== n * features) {
    throw new FusionError('SHAPE_MISMATCH', `${what} holds ${x.data.length} values, its shape needs ${n * features}`, {
      tensor: what,
    });
  }
  if (n === 0) throw new FusionError('INVALID_ARGUMENT', `${what} has no samples`, { tensor: what });
  return { n, features };
}

/** Checks labels against the sample count and the number of classes. */
export function checkLabels(y: ArrayLike<number>, n: number, classes: number, what = 'y'): void {
  if (y.length !== n) {
    throw new FusionError('SHAPE_MISMATCH', `${what} has ${y.length} labels for ${n} samples`, { tensor: what });
  }
  for (let i = 0; i < n; i++) {
    const label = y[i];
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new FusionError('INVALID_ARGUMENT', `${what}[${i}] = ${label} is not a class index in [0, ${classes})`, {
        tensor: what,
        index: i,
      });
    }
  }
}

export function checkBatchSize(batchSize: number, field = 'batchSize'): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new FusionError('INVALID_ARGUMENT', `${field} must be a positive integer, got ${batchSize}`, { field });
  }
  return batchSize;
}

/** Copies the samples at `indices` into one contiguous [indices.length, features] block. */
export function gatherRows(x: Float32Array, features: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * features);
  for (let r = 0; r < indices.length; r++) {
    const start = indices[r] * features;
    out.set(x.subarray(start, start + features), r * features);
  }
  return out;
}

/** One-hot rows for `labels`, as the NLL loss multiplies them with log-probabilities. */
export function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let r = 0; r < labels.length; r++) out[r * classes + labels[r]] = 1;
  return out;
}

/**
 * Row-wise argmax of an [N, classes] matrix. Ties go to the lowest index,
 * as torch.argmax does on CPU.
 */
export function argmaxRows(values: Float32Array, classes: number): Int32Array {
  const n = values.length / classes;
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    let bestValue = values[r * classes];
    for (let c = 1; c < classes; c++) {
      const v = values[r * classes + c];
      if (v > bestValue) {
        best = c;
        bestValue = v;
      }
    }
    out[r] = best;
  }
  return out;
}

/** Fraction of `predictions` equal to `labels`. */
export function fractionCorrect(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < predictions.length; i++) if (predictions[i] === labels[i]) correct++;
  return correct / predictions.length;
}
