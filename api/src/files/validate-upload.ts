/**
 * Checks an uploaded file from its safetensors header alone: names, dtypes,
 * shapes and architecture for a model; tensors `x`/`y` for a dataset. It runs
 * the engine's own checks (naming.ts → arch.ts) on shape-only tensors, so the
 * messages are the ones the CLI and the runner give. Values (NaN/Inf) are not
 * read here; the runner checks them when it loads the file.
 */
import { type Arch, paramSpecs } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { numel, type Tensor32 } from '@clafusion/model-format/tensor';
import { FLOAT_DTYPES, INTEGER_DTYPES, READABLE_DTYPES, isReadableDtype } from '@clafusion/model-format/dtypes';
import { isIgnoredTensor, toCanonical } from '@clafusion/model-format/naming';
import type { SafetensorsHeader } from '@clafusion/model-format/safetensors';
import type { ArchJson, FileObject } from '@clafusion/contract';
import type { ModelHeader } from './read-model-header.ts';

const NO_VALUES = new Float32Array(0);

export function summarizeModel(header: ModelHeader, arch: ArchJson | undefined): NonNullable<FileObject['model']> {
  const stateDict = new Map<string, Tensor32>();
  for (const t of header.tensors) {
    // BatchNorm's int64 num_batches_tracked: parseModelFile skips it before converting.
    if (isIgnoredTensor(t.name)) continue;
    // parseModelFile converts every tensor with toFloat32, which refuses integer dtypes in these words.
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      throw new FusionError('UNSUPPORTED', `tensor ${t.name} has dtype ${t.dtype}, but a float tensor (F32, F16, BF16 or F64) is needed`, {
        tensor: t.name,
        dtype: t.dtype,
      });
    }
    // validateParams checks values only over `data`; with none, it checks names and shapes.
    stateDict.set(t.name, { shape: t.shape, data: NO_VALUES });
  }
  const { model, archSource } = toCanonical(stateDict, { arch: arch as Arch | undefined, metadata: header.metadata });
  return {
    arch: model.arch as unknown as ArchJson,
    arch_source: archSource,
    parameters: paramSpecs(model.arch).reduce((sum, p) => sum + numel(p.shape), 0),
    dtypes: [...new Set(header.tensors.map((t) => t.dtype))].sort(),
    tensors: header.tensors.length,
  };
}

/** Mirrors parseDatasetSafetensors' checks (gpu-runner/src/io/datasets.ts) on the header. */
export function summarizeDataset(header: SafetensorsHeader, source: string): NonNullable<FileObject['dataset']> {
  for (const t of header.tensors) {
    if (t.name !== 'x' && t.name !== 'y') {
      throw new FusionError('UNEXPECTED_TENSOR', `${source}: tensor ${t.name} is not part of a dataset (expected x and optional y)`, {
        tensor: t.name,
        path: source,
      });
    }
  }
  const x = header.tensors.find((t) => t.name === 'x');
  if (x === undefined) throw new FusionError('MISSING_TENSOR', `${source}: dataset tensor x is missing`, { tensor: 'x', path: source });
  if (x.shape.length === 0) {
    throw new FusionError('SHAPE_MISMATCH', `${source}: tensor x must have a sample axis, got a scalar`, { tensor: 'x' });
  }
  if (!isReadableDtype(x.dtype)) {
    throw new FusionError('UNSUPPORTED', `tensor x has dtype ${x.dtype}, which cannot be read (readable dtypes: ${READABLE_DTYPES.join(', ')})`, {
      tensor: 'x',
      dtype: x.dtype,
    });
  }
  const y = header.tensors.find((t) => t.name === 'y');
  if (y !== undefined) {
    if (y.shape.length !== 1) {
      throw new FusionError('SHAPE_MISMATCH', `${source}: tensor y must be 1-D, got shape [${y.shape.join(', ')}]`, { tensor: 'y' });
    }
    if (!INTEGER_DTYPES.includes(y.dtype)) {
      throw new FusionError('UNSUPPORTED', `tensor y has dtype ${y.dtype}, but labels must be integers (I64, I32, U8 or I8)`, {
        tensor: 'y',
        dtype: y.dtype,
      });
    }
    if (y.shape[0] !== x.shape[0]) {
      throw new FusionError('SHAPE_MISMATCH', `${source}: y has ${y.shape[0]} labels but x has ${x.shape[0]} samples`, { tensor: 'y' });
    }
  }
  return { samples: x.shape[0], sample_shape: x.shape.slice(1), x_dtype: x.dtype, labels: y !== undefined };
}
