/**
 * Checks at create what the runner would otherwise find only when it runs
 * (gpu-runner/src/engine/nn/data.ts: inputLayout, checkLabels): every
 * dataset's samples have as many values as the models' input, hold at least
 * one sample, and its labels are class indices of the models. The answer is
 * 422 `invalid_file` naming the field, the file and the shapes.
 */
import type { ArchJson, FileObject } from '@clafusion/contract';
import { ApiError } from '../errors.ts';

export interface DatasetUse {
  /** The spec field that names the file, e.g. `calibration.file`. */
  field: string;
  file: FileObject;
}

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

export function checkDataFits(arch: ArchJson, uses: readonly DatasetUse[]): void {
  const features = product(arch.input);
  for (const { field, file } of uses) {
    const dataset = file.dataset!;
    const xShape = [dataset.samples, ...dataset.sample_shape];
    const details = { field, id: file.id, name: file.name, shape: xShape, expected: arch.input };
    if (dataset.sample_shape.length === 0 || product(dataset.sample_shape) !== features) {
      throw new ApiError(
        'invalid_file',
        `${field}: ${file.name} has ${dataset.sample_shape.length === 0 ? 'no sample axis' : `${product(dataset.sample_shape)} values per sample`} ` +
          `(x shape ${shapeText(xShape)}) but the models' input ${shapeText(arch.input)} has ${features}`,
        details,
      );
    }
    if (dataset.samples === 0) throw new ApiError('invalid_file', `${field}: ${file.name} has no samples (x shape ${shapeText(xShape)})`, details);
    const range = dataset.label_range;
    if (range && (range[0] < 0 || range[1] >= arch.classes)) {
      throw new ApiError(
        'invalid_file',
        `${field}: ${file.name} has labels from ${range[0]} to ${range[1]}, but the models have ${arch.classes} classes (labels 0 to ${arch.classes - 1})`,
        { field, id: file.id, name: file.name, label_range: range, classes: arch.classes },
      );
    }
  }
}
