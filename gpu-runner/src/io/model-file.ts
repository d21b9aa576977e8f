/**
 * Model files: safetensors state dicts or PyTorch checkpoints (torch.save,
 * zip or legacy format; see pytorch/checkpoint.ts) in, canonical models out,
 * and back. The format is told from the bytes, not the file name.
 *
 * Weights may be stored as F32, F16, BF16 or F64 and are converted to float32
 * (the engine's only weight type); integer weight tensors are refused. The
 * file is written as F32 with `__metadata__.arch` holding the architecture's
 * JSON, so reading it back needs no inference. BatchNorm's int64
 * `num_batches_tracked` is skipped on input and written as 0 (see
 * naming.ts stateDictToWrite).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Arch, type Model, validateParams } from '@clafusion/model-format/arch';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { atomicWriteFile } from '@clafusion/model-format/atomic-write';
import { toFloat32 } from '@clafusion/model-format/dtypes';
import { type ArchSource, type NamingConvention, isIgnoredTensor, stateDictToWrite, toCanonical } from '@clafusion/model-format/naming';
import { type SafetensorsReadOptions, parseSafetensors, serializeSafetensors } from '@clafusion/model-format/safetensors';
import { type CheckpointReadOptions, parsePytorchCheckpoint, sniffPytorchFormat } from '@clafusion/model-format/pytorch/checkpoint';

export interface ReadModelOptions extends SafetensorsReadOptions, CheckpointReadOptions {
  /** Explicit architecture; wins over `__metadata__.arch` and inference. */
  arch?: Arch;
}

export interface ModelFile {
  model: Model;
  /** How the file names its tensors; pass it to writeModelFile to write in the same style. */
  convention: NamingConvention;
  /** The file's `__metadata__` (empty when absent). */
  metadata: Record<string, string>;
  archSource: ArchSource;
  /** Hex SHA-256 of the file's bytes, to identify the exact input of a job. */
  sha256: string;
}

/** Parses model-file bytes (already in memory); see readModelFile. */
export function parseModelFile(bytes: Uint8Array, options: ReadModelOptions = {}): ModelFile {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const { metadata, tensors } = sniffPytorchFormat(bytes.subarray(0, 16)) ? parsePytorchCheckpoint(bytes, options) : parseSafetensors(bytes, options);
  const stateDict = new Map<string, Tensor32>();
  for (const [name, raw] of tensors) {
    // BatchNorm's int64 num_batches_tracked carries nothing the engine uses.
    if (isIgnoredTensor(name)) continue;
    stateDict.set(name, { shape: raw.shape, data: toFloat32(raw, name) });
  }
  const { model, convention, archSource } = toCanonical(stateDict, { arch: options.arch, metadata });
  return { model, convention, metadata, archSource, sha256 };
}

export async function readModelFile(path: string, options: ReadModelOptions = {}): Promise<ModelFile> {
  return parseModelFile(await readFile(path), options);
}

/**
 * Serializes a model in `convention`'s names as F32 safetensors. The `arch`
 * metadata entry always describes `model`: a caller passing on an input
 * file's metadata (whose `arch` is the input's) gets it replaced.
 */
export function serializeModel(model: Model, convention: NamingConvention, metadata: Record<string, string> = {}): Uint8Array {
  validateParams(model.arch, model.params);
  return serializeSafetensors(stateDictToWrite(model, convention), { ...metadata, arch: JSON.stringify(model.arch) });
}

/** Writes a model file atomically: a crash leaves the old file or the new one, never half of one. */
export async function writeModelFile(
  path: string,
  model: Model,
  convention: NamingConvention,
  metadata: Record<string, string> = {},
): Promise<void> {
  await atomicWriteFile(path, serializeModel(model, convention, metadata));
}
