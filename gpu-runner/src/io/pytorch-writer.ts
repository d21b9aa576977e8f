/**
 * Writes state dicts in PyTorch's zip format (torch.save since 1.6), so a
 * fused model loads with `torch.load(path)` + `model.load_state_dict(…)`.
 *
 * The archive, as torch.save lays it out (caffe2/serialize/inline_container.cc
 * and torch/serialization.py `_save`), with every entry stored and its data
 * 64-byte aligned (zip-writer.ts):
 *
 *   archive/data.pkl     the pickled OrderedDict (protocol 2)
 *   archive/byteorder    "little" (torch ≥ 2.1 reads it; older versions ignore it)
 *   archive/data/<k>     storage k's raw little-endian bytes
 *   archive/version      "3\n", the file-format version torch.save writes
 *
 * In data.pkl every tensor is `torch._utils._rebuild_tensor_v2(storage, 0,
 * size, stride, False, OrderedDict())` whose storage is the persistent id
 * `('storage', torch.FloatStorage, '<k>', 'cpu', numel)`, resolved by
 * torch.load from `data/<k>`. Each tensor has a storage of its own, and is
 * contiguous (row-major strides). The folder name is torch's default for a
 * buffer, `archive`: torch.load accepts any, and the bytes then do not
 * depend on the file's name.
 *
 * The state dict holds exactly what the safetensors output holds, under the
 * same names (naming.ts stateDictToWrite), including BatchNorm's int64
 * `num_batches_tracked`.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { type Model, validateParams } from '@clafusion/model-format/arch';
import { numel, shapeString } from '@clafusion/model-format/tensor';
import { type NamingConvention, stateDictToWrite } from '@clafusion/model-format/naming';
import { PickleWriter } from './pickle-writer.ts';
import type { TensorToWrite } from '@clafusion/model-format/safetensors';
import { storedZip, type ZipEntry } from './zip-writer.ts';

/** The folder inside the zip; torch.save uses this name when writing to a buffer. */
export const PYTORCH_ARCHIVE_NAME = 'archive';
/** torch.save's produced file-format version (kProducedFileFormatVersion) for plain tensors. */
const FILE_FORMAT_VERSION = '3\n';
/** Storage alignment inside the zip (kFieldAlignment). */
const ALIGNMENT = 64;

const STORAGE_TYPES = { F32: 'FloatStorage', I32: 'IntStorage', I64: 'LongStorage' } as const;
const ELEMENT_SIZE = { F32: 4, I32: 4, I64: 8 } as const;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function invalid(name: string, message: string): FusionError {
  return new FusionError('INVALID_ARGUMENT', `tensor ${name}: ${message}`, { tensor: name });
}

/** Row-major strides, in elements, as a contiguous PyTorch tensor has them. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= Math.max(shape[i], 1);
  }
  return strides;
}

/** The tensor's values as little-endian bytes of its dtype. */
function storageBytes(name: string, t: TensorToWrite): Uint8Array {
  const dtype = t.dtype ?? 'F32';
  const count = numel(t.shape);
  if (t.data.length !== count) throw invalid(name, `${t.data.length} values do not fill shape ${shapeString(t.shape)}`);
  if (dtype === 'F32' && t.data instanceof Float32Array && LITTLE_ENDIAN_HOST) {
    return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  const out = new Uint8Array(count * ELEMENT_SIZE[dtype]);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    const v = t.data[i];
    if (dtype === 'F32') {
      dv.setFloat32(4 * i, v as number, true);
      continue;
    }
    const big = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v) : undefined;
    if (big === undefined) throw invalid(name, `value ${v} at index ${i} is not an integer`);
    if (dtype === 'I32') {
      if (big < -(2n ** 31n) || big >= 2n ** 31n) throw invalid(name, `value ${v} at index ${i} is not a valid int32`);
      dv.setInt32(4 * i, Number(big), true);
    } else {
      dv.setBigInt64(8 * i, big, true);
    }
  }
  return out;
}

/**
 * Serializes named tensors, in the order given, as a torch.save zip of an
 * OrderedDict (a state dict).
 */
export function serializePytorchStateDict(tensors: Iterable<readonly [string, TensorToWrite]>): Uint8Array {
  const pickle = new PickleWriter();
  pickle.global('collections', 'OrderedDict').tuple(0).reduce().mark();
  const storages: ZipEntry[] = [];
  const seen = new Set<string>();
  for (const [name, t] of tensors) {
    if (seen.has(name)) throw invalid(name, 'is given twice');
    seen.add(name);
    t.shape.forEach((d, i) => {
      if (!Number.isSafeInteger(d) || d < 0) throw invalid(name, `shape[${i}] must be a non-negative integer, got ${d}`);
    });
    const dtype = t.dtype ?? 'F32';
    const key = String(storages.length);
    storages.push({ name: `${PYTORCH_ARCHIVE_NAME}/data/${key}`, data: storageBytes(name, t) });
    pickle.string(name);
    pickle.global('torch._utils', '_rebuild_tensor_v2').mark();
    // The storage: a persistent id torch.load resolves to data/<key>.
    pickle.mark().string('storage').global('torch', STORAGE_TYPES[dtype]).string(key).string('cpu').int(numel(t.shape)).tuple().persistentId();
    pickle.int(0); // storage offset
    pickle.intTuple(t.shape);
    pickle.intTuple(contiguousStrides(t.shape));
    pickle.bool(false); // requires_grad
    pickle.global('collections', 'OrderedDict').tuple(0).reduce(); // backward hooks
    pickle.tuple().reduce();
  }
  pickle.setItems();
  const encoder = new TextEncoder();
  return storedZip(
    [
      { name: `${PYTORCH_ARCHIVE_NAME}/data.pkl`, data: pickle.finish() },
      { name: `${PYTORCH_ARCHIVE_NAME}/byteorder`, data: encoder.encode('little') },
      ...storages,
      { name: `${PYTORCH_ARCHIVE_NAME}/version`, data: encoder.encode(FILE_FORMAT_VERSION) },
    ],
    ALIGNMENT,
  );
}

/**
 * A model as a PyTorch state dict file, in `convention`'s names: the same
 * tensors as serializeModel's safetensors. PyTorch state dicts carry no
 * metadata, so the architecture is not stored; reading the file back infers
 * it from the names and shapes, as for any PyTorch file.
 */
export function serializeModelPytorch(model: Model, convention: NamingConvention): Uint8Array {
  validateParams(model.arch, model.params);
  return serializePytorchStateDict(stateDictToWrite(model, convention));
}
