/**
 * PyTorch checkpoints (`torch.save`) as state dicts: the zip format of
 * PyTorch ≥ 1.6 (`<folder>/data.pkl` plus one `<folder>/data/<key>` entry per
 * storage; the folder name varies with the file name and version) and the
 * legacy format before it (five pickles in a row, then each storage as an
 * 8-byte element count and its bytes).
 *
 * The pickle is read by the restricted unpickler: the only callables it may
 * name are OrderedDict, torch's tensor/parameter rebuild functions and the
 * storage types, each replaced by a pure function here; nothing is imported or
 * run. A tensor is a view (offset, shape, strides) of a storage; contiguous
 * ones stay views of the file's bytes, strided ones (a transposed or sliced
 * tensor saved as is) are gathered into new bytes, within a budget tied to the
 * file's size, so a hostile view cannot make us allocate terabytes.
 *
 * The state dict is found at the top (`torch.save(model.state_dict())`) or
 * under one of the keys training scripts use (`state_dict`,
 * `model_state_dict`, `model`, `net`), and `module.` prefixes (DataParallel)
 * are stripped. What comes out has safetensors' shape (dtype names, RawTensor
 * bytes), so model-file.ts treats both formats alike from there on.
 */
import { FusionError } from '../errors.ts';
import { shapeString } from '../tensor.ts';
import { type RawTensor, type SafetensorsDtype, dtypeSize } from '../dtypes.ts';
import { type PickleValue, PickleDict, PickleGlobal, PickleTuple, type UnpicklerHooks, unpickle, unsupportedObject } from './unpickler.ts';
import { type RangeReads, type ZipEntry, type ZipReadOptions, DEFAULT_MAX_INFLATED, checkZipEntry, looksLikeZip, readZipDirectory, readZipEntry, runRangesSync } from './zip.ts';

export type PytorchFormat = 'pytorch-zip' | 'pytorch-legacy';

export interface CheckpointReadOptions extends ZipReadOptions {
  /** Bytes the state dict's tensors may take, in all (default: twice the file plus 1 MiB; views of one storage count each time). */
  maxGatherBytes?: number;
}

/** A tensor as the header describes it: enough to check names, dtypes and shapes. */
export interface CheckpointTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

export interface CheckpointHeader {
  format: PytorchFormat;
  /** Always empty: a checkpoint has no safetensors-style metadata; kept so callers treat both formats alike. */
  metadata: Record<string, string>;
  tensors: CheckpointTensorInfo[];
}

export interface CheckpointContents {
  format: PytorchFormat;
  metadata: Record<string, string>;
  tensors: Map<string, RawTensor>;
}

/** torch.save's legacy magic number (torch/serialization.py MAGIC_NUMBER). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
/** Most a legacy header (the pickles before the storages) may take; a ResNet-152's is ~60 KB. */
const MAX_LEGACY_PICKLE_BYTES = 64 * 1024 * 1024;
/** Most the zip format's data.pkl may take. */
const MAX_DATA_PKL_BYTES = 64 * 1024 * 1024;

/** torch's typed storage classes and the element type of each. */
const STORAGE_DTYPES: Record<string, SafetensorsDtype> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** Where training scripts keep the state dict inside a checkpoint dict, in the order we look. */
export const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model', 'net'] as const;
/** Prefixes wrappers add to every name: DataParallel/DistributedDataParallel, torch.compile. */
const WRAPPER_PREFIXES = ['module.', '_orig_mod.'];

const REBUILD_TENSOR = new Set(['torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor']);
const REBUILD_PARAMETER = new Set(['torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state']);
const ALLOWED = new Set([
  'collections.OrderedDict',
  ...REBUILD_TENSOR,
  ...REBUILD_PARAMETER,
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
]);

interface StorageRef {
  kind: 'storage';
  key: string;
  dtype: SafetensorsDtype;
  /** Elements the storage holds, as its persistent id says. */
  numel: number;
}

interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

function malformed(message: string, details: Record<string, unknown> = {}): FusionError {
  return new FusionError('MALFORMED_FILE', message, details);
}

function isTensor(v: PickleValue | undefined): v is TensorRef & PickleValue {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'tensor';
}

function isStorage(v: PickleValue | undefined): v is StorageRef & PickleValue {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'storage';
}

function isCount(v: PickleValue | undefined): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function counts(v: PickleValue | undefined, what: string): number[] {
  if (!(v instanceof PickleTuple) && !Array.isArray(v)) throw malformed(`checkpoint tensor ${what} is not a tuple`);
  const items = v instanceof PickleTuple ? v.items : v;
  if (!items.every(isCount)) throw malformed(`checkpoint tensor ${what} holds a value that is not a non-negative integer`);
  return [...(items as number[])];
}

/** The unpickler's stand-ins for the few callables a state dict names. */
function torchHooks(storages: Map<string, StorageRef>, legacy: boolean): UnpicklerHooks {
  return {
    allowed: ALLOWED,
    call(fn, args) {
      const q = fn.qualified;
      if (q === 'collections.OrderedDict') {
        if (args.length !== 0) throw new FusionError('UNSUPPORTED', 'checkpoint builds an OrderedDict from arguments, which torch.save never does');
        return new PickleDict();
      }
      if (REBUILD_TENSOR.has(q)) {
        const [storage, offset, size, stride] = args;
        if (!isStorage(storage)) throw malformed(`checkpoint calls ${q} without a storage`);
        if (!isCount(offset)) throw malformed('checkpoint tensor has an invalid storage offset');
        const shape = counts(size, 'size');
        const strides = counts(stride, 'stride');
        if (strides.length !== shape.length) throw malformed(`checkpoint tensor has ${shape.length} sizes but ${strides.length} strides`);
        const tensor: TensorRef = { kind: 'tensor', storage, offset, shape, stride: strides };
        return tensor;
      }
      if (REBUILD_PARAMETER.has(q)) {
        if (!isTensor(args[0])) throw malformed(`checkpoint calls ${q} without a tensor`);
        return args[0];
      }
      throw unsupportedObject(q);
    },
    build(obj, state) {
      // OrderedDict.__reduce__ hands over the instance dict: a state dict's `_metadata` (module versions), which we do not need.
      if (obj instanceof PickleDict || isTensor(obj)) return obj;
      throw new FusionError('UNSUPPORTED', `checkpoint sets the state of ${describe(obj)} (pickle BUILD), which a state dict never does`);
    },
    persistentLoad(pid) {
      const items = pid instanceof PickleTuple ? pid.items : [];
      const [tag, type, key, , numel, viewMetadata] = items;
      if (tag !== 'storage' || items.length < 5) throw malformed('checkpoint refers to an external object that is not a storage');
      if (!(type instanceof PickleGlobal) || type.module !== 'torch' || !Object.hasOwn(STORAGE_DTYPES, type.name)) {
        throw new FusionError('UNSUPPORTED', `checkpoint holds a storage of unknown type ${type instanceof PickleGlobal ? type.qualified : describe(type ?? null)}`);
      }
      if (typeof key !== 'string') throw malformed('checkpoint storage key is not a string');
      if (!isCount(numel)) throw malformed(`checkpoint storage ${key} has an invalid size`);
      if (legacy && viewMetadata !== null && viewMetadata !== undefined) {
        throw new FusionError('UNSUPPORTED', `checkpoint storage ${key} is a view of another storage (PyTorch < 0.4), which is not supported: re-save it with a current PyTorch`);
      }
      const dtype = STORAGE_DTYPES[type.name];
      const known = storages.get(key);
      if (known) {
        if (known.dtype !== dtype || known.numel !== numel) throw malformed(`checkpoint storage ${key} is described twice, differently`);
        return known as unknown as PickleValue;
      }
      const ref: StorageRef = { kind: 'storage', key, dtype, numel };
      storages.set(key, ref);
      return ref as unknown as PickleValue;
    },
  };
}

function describe(v: PickleValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof PickleTuple) return 'a tuple';
  if (v instanceof PickleDict) return 'a dict';
  if (v instanceof PickleGlobal) return v.qualified;
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return `a ${(v as { kind: string }).kind}`;
  return `a ${typeof v}`;
}

function isStateDict(v: PickleValue | undefined): v is PickleDict {
  if (!(v instanceof PickleDict) || v.map.size === 0) return false;
  for (const [k, t] of v.map) if (typeof k !== 'string' || !isTensor(t)) return false;
  return true;
}

function keyList(d: PickleDict): string {
  const keys = [...d.map.keys()].map((k) => String(k));
  return keys.length > 12 ? `${keys.slice(0, 12).join(', ')}, … (${keys.length} keys)` : keys.join(', ');
}

/** The state dict inside what torch.save saved, with wrapper prefixes stripped. */
function findStateDict(root: PickleValue): Map<string, TensorRef> {
  let found: PickleDict | undefined = isStateDict(root) ? root : undefined;
  if (!found && root instanceof PickleDict) {
    for (const key of STATE_DICT_KEYS) {
      const v = root.map.get(key);
      if (isStateDict(v)) {
        found = v;
        break;
      }
    }
  }
  if (!found) {
    const what =
      root instanceof PickleDict
        ? `a dict with keys ${keyList(root) || '(none)'}`
        : describe(root);
    throw new FusionError(
      'MALFORMED_FILE',
      `no state dict found in checkpoint: it holds ${what}; expected a dict of tensors (torch.save(model.state_dict())) or one under ${STATE_DICT_KEYS.join(', ')}`,
    );
  }
  let entries = [...found.map] as [string, TensorRef][];
  for (;;) {
    const prefix = WRAPPER_PREFIXES.find((p) => entries.every(([name]) => name.startsWith(p)));
    if (!prefix) break;
    entries = entries.map(([name, t]) => [name.slice(prefix.length), t]);
  }
  return new Map(entries);
}

/** Checks that a tensor's view lies inside its storage; returns its element count. */
function checkView(name: string, t: TensorRef): number {
  const es = dtypeSize(t.storage.dtype);
  let numel = 1;
  let last = t.offset;
  for (let i = 0; i < t.shape.length; i++) {
    numel *= t.shape[i];
    if (t.shape[i] > 0) last += (t.shape[i] - 1) * t.stride[i];
  }
  if (!Number.isSafeInteger(numel * es) || !Number.isSafeInteger(last)) {
    throw malformed(`tensor ${name}: shape ${shapeString(t.shape)} has too many elements`, { tensor: name });
  }
  if (numel > 0 && last >= t.storage.numel) {
    throw malformed(
      `tensor ${name}: shape ${shapeString(t.shape)} with strides [${t.stride.join(', ')}] from offset ${t.offset} reaches element ${last} of storage ${t.storage.key}, which holds ${t.storage.numel}`,
      { tensor: name },
    );
  }
  return numel;
}

function isContiguous(t: TensorRef): boolean {
  let expected = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.stride[i] !== expected) return false;
    expected *= t.shape[i];
  }
  return true;
}

/**
 * The tensor's elements in row-major order: a view when contiguous, else a
 * gathered copy. Every tensor is charged to `budget`, views too: the caller
 * converts each to float32, so a file whose thousands of tensors all view one
 * large storage would otherwise make it allocate thousands of copies.
 */
function tensorBytes(name: string, t: TensorRef, storage: Uint8Array, budget: { left: number }): Uint8Array {
  const numel = checkView(name, t);
  const es = dtypeSize(t.storage.dtype);
  if (numel === 0) return new Uint8Array(0);
  const bytes = numel * es;
  if (bytes > budget.left) {
    throw malformed(
      `tensor ${name}: reading it needs ${bytes} bytes, beyond what a file of this size may take (${budget.left} left; are many tensors views of one storage?)`,
      { tensor: name },
    );
  }
  budget.left -= bytes;
  if (isContiguous(t)) return storage.subarray(t.offset * es, (t.offset + numel) * es);
  const out = new Uint8Array(bytes);
  const rank = t.shape.length;
  const index = new Array<number>(rank).fill(0);
  let src = t.offset;
  for (let k = 0; k < numel; k++) {
    out.set(storage.subarray(src * es, src * es + es), k * es);
    // Odometer over the shape, last axis fastest.
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      src += t.stride[d];
      if (index[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** Which torch format the bytes are, or null for anything else (safetensors starts its JSON header at byte 8). */
export function sniffPytorchFormat(prefix: Uint8Array): PytorchFormat | null {
  if (prefix.length > 8 && prefix[8] === 0x7b) return null;
  if (looksLikeZip(prefix)) return 'pytorch-zip';
  // PROTO 2..5: the legacy format opens with a pickle of its magic number.
  if (prefix.length >= 2 && prefix[0] === 0x80 && prefix[1] >= 2 && prefix[1] <= 5) return 'pytorch-legacy';
  return null;
}

// ---------------------------------------------------------------- zip format

interface ZipLayout {
  entries: Map<string, ZipEntry>;
  /** The folder every entry lives in, with its trailing slash ('archive/'). */
  folder: string;
  dataPkl: ZipEntry;
}

function* zipLayout(fileSize: number, maxPickleBytes = MAX_DATA_PKL_BYTES): RangeReads<ZipLayout> {
  const entries = yield* readZipDirectory(fileSize);
  const pickles = [...entries.keys()].filter((n) => /^([^/]+\/)?data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    const names = [...entries.keys()].slice(0, 8).join(', ');
    throw malformed(
      pickles.length === 0
        ? `zip archive is not a PyTorch checkpoint: it has no data.pkl (entries: ${names || 'none'})`
        : `zip archive holds ${pickles.length} data.pkl files: ${pickles.join(', ')}`,
    );
  }
  const dataPkl = entries.get(pickles[0])!;
  if (dataPkl.size > maxPickleBytes) throw malformed(`${dataPkl.name} declares ${dataPkl.size} bytes, beyond the ${maxPickleBytes} a state dict's pickle may take`);
  const folder = pickles[0].slice(0, pickles[0].length - 'data.pkl'.length);
  const byteorder = entries.get(`${folder}byteorder`);
  const layout = { entries, folder, dataPkl };
  if (byteorder && byteorder.size <= 16) {
    const order = new TextDecoder().decode(yield* readZipEntry(byteorder, fileSize));
    if (order !== 'little') throw new FusionError('UNSUPPORTED', `checkpoint was saved on a ${order}-endian machine; only little-endian checkpoints are read`);
  }
  return layout;
}

function storageEntry(layout: ZipLayout, ref: StorageRef): ZipEntry {
  const entry = layout.entries.get(`${layout.folder}data/${ref.key}`);
  if (!entry) throw malformed(`checkpoint storage ${ref.key} is missing from the archive (${layout.folder}data/${ref.key}); truncated file?`);
  const needed = ref.numel * dtypeSize(ref.dtype);
  if (!Number.isSafeInteger(needed) || entry.size < needed) {
    throw malformed(`checkpoint storage ${ref.key} declares ${ref.numel} elements of ${ref.dtype} (${needed} bytes) but its entry holds ${entry.size}`);
  }
  return entry;
}

function* zipState(fileSize: number, options: CheckpointHeaderOptions): RangeReads<{ layout: ZipLayout; tensors: Map<string, TensorRef> }> {
  const layout = yield* zipLayout(fileSize, options.maxPickleBytes);
  const pkl = yield* readZipEntry(layout.dataPkl, fileSize, options);
  const storages = new Map<string, StorageRef>();
  const { value } = unpickle(pkl, 0, torchHooks(storages, false));
  return { layout, tensors: findStateDict(value) };
}

// ---------------------------------------------------------------- legacy format

interface LegacyPickles {
  tensors: Map<string, TensorRef>;
  storages: Map<string, StorageRef>;
  /** Offset just past the main pickle. */
  end: number;
}

/** The legacy format's plain pickles (magic, protocol, sys info, storage keys) name no global at all. */
const PLAIN: UnpicklerHooks = {
  allowed: new Set(),
  call: (fn) => {
    throw unsupportedObject(fn.qualified);
  },
};

function legacyPickles(bytes: Uint8Array): LegacyPickles {
  const magic = unpickle(bytes, 0, PLAIN);
  if (magic.value !== LEGACY_MAGIC) throw malformed('file is a pickle but not a PyTorch checkpoint (no torch.save magic number)');
  const protocol = unpickle(bytes, magic.end, PLAIN);
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new FusionError('UNSUPPORTED', `checkpoint uses torch.save protocol ${String(protocol.value)}; protocol ${LEGACY_PROTOCOL} is read`);
  }
  const sysInfo = unpickle(bytes, protocol.end, PLAIN);
  if (sysInfo.value instanceof PickleDict && sysInfo.value.map.get('little_endian') === false) {
    throw new FusionError('UNSUPPORTED', 'checkpoint was saved on a big-endian machine; only little-endian checkpoints are read');
  }
  const storages = new Map<string, StorageRef>();
  const main = unpickle(bytes, sysInfo.end, torchHooks(storages, true));
  return { tensors: findStateDict(main.value), storages, end: main.end };
}

function legacyStorages(bytes: Uint8Array, pickles: LegacyPickles): Map<string, Uint8Array> {
  const keys = unpickle(bytes, pickles.end, PLAIN);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw malformed('checkpoint storage key list is not a list of strings');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, Uint8Array>();
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const ref = pickles.storages.get(key);
    if (!ref) throw malformed(`checkpoint storage ${key} is listed but no tensor uses it`);
    if (pos + 8 > bytes.length) throw malformed(`checkpoint is truncated: storage ${key} has no size (byte ${pos} of ${bytes.length})`);
    const count = dv.getBigInt64(pos, true);
    pos += 8;
    const es = BigInt(dtypeSize(ref.dtype));
    if (count < BigInt(ref.numel) || count * es > BigInt(bytes.length - pos)) {
      throw malformed(
        `checkpoint storage ${key} declares ${count} elements of ${ref.dtype}, but ${ref.numel} are used and ${bytes.length - pos} bytes are left (truncated file?)`,
      );
    }
    const length = Number(count * es);
    out.set(key, bytes.subarray(pos, pos + length));
    pos += length;
  }
  for (const key of pickles.storages.keys()) if (!out.has(key)) throw malformed(`checkpoint storage ${key} is used by a tensor but missing from the file`);
  return out;
}

// ---------------------------------------------------------------- entry points

/** Reads a whole checkpoint held in memory into its state dict's tensors (float or not; model-file.ts decides). */
export function parsePytorchCheckpoint(bytes: Uint8Array, options: CheckpointReadOptions = {}): CheckpointContents {
  const format = sniffPytorchFormat(bytes.subarray(0, 16));
  if (format === null) throw malformed('file is not a PyTorch checkpoint (neither a torch.save zip archive nor a legacy torch.save pickle)');
  const budget = { left: options.maxGatherBytes ?? 2 * bytes.length + 1024 * 1024 };
  const tensors = new Map<string, RawTensor>();
  if (format === 'pytorch-zip') {
    const { layout, tensors: refs } = runRangesSync(zipState(bytes.length, options), bytes);
    const storageBytes = new Map<string, Uint8Array>();
    // Each deflated entry is bounded on its own (zip.ts); this bounds them together.
    let inflateLeft = options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED;
    for (const [name, t] of refs) {
      let storage = storageBytes.get(t.storage.key);
      if (!storage) {
        const entry = storageEntry(layout, t.storage);
        if (entry.method !== 0) {
          inflateLeft -= entry.size;
          if (inflateLeft < 0) throw malformed(`checkpoint storage ${t.storage.key}: its deflated entries inflate to more than ${options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED} bytes in all`);
        }
        storage = runRangesSync(readZipEntry(entry, bytes.length, options), bytes);
        storageBytes.set(t.storage.key, storage);
      }
      tensors.set(name, { dtype: t.storage.dtype, shape: t.shape, bytes: tensorBytes(name, t, storage, budget) });
    }
  } else {
    const pickles = legacyPickles(bytes);
    const storages = legacyStorages(bytes, pickles);
    for (const [name, t] of pickles.tensors) {
      tensors.set(name, { dtype: t.storage.dtype, shape: t.shape, bytes: tensorBytes(name, t, storages.get(t.storage.key)!, budget) });
    }
  }
  return { format, metadata: {}, tensors };
}

/**
 * Reads only what describes the tensors (names, dtypes, shapes), by range
 * requests: for the zip format the directory and data.pkl, checking that
 * every storage's entry is present, large enough and inside the file; for
 * the legacy format the pickles at the start (its storages are checked when
 * the file is loaded). Yields the ranges it needs; see zip.ts.
 */
export interface CheckpointHeaderOptions extends ZipReadOptions {
  /** Most bytes the pickle describing the tensors may take (default 64 MiB). */
  maxPickleBytes?: number;
}

export function* readPytorchHeader(fileSize: number, options: CheckpointHeaderOptions = {}): RangeReads<CheckpointHeader> {
  const prefix = yield [0, Math.min(16, fileSize)];
  const format = sniffPytorchFormat(prefix);
  if (format === null) throw malformed('file is not a PyTorch checkpoint (neither a torch.save zip archive nor a legacy torch.save pickle)');
  let refs: Map<string, TensorRef>;
  if (format === 'pytorch-zip') {
    const state = yield* zipState(fileSize, options);
    const checked = new Set<string>();
    for (const t of state.tensors.values()) {
      if (checked.has(t.storage.key)) continue;
      checked.add(t.storage.key);
      yield* checkZipEntry(storageEntry(state.layout, t.storage), fileSize);
    }
    refs = state.tensors;
  } else {
    const head = yield [0, Math.min(fileSize, options.maxPickleBytes ?? MAX_LEGACY_PICKLE_BYTES)];
    refs = legacyPickles(head).tensors;
  }
  const tensors: CheckpointTensorInfo[] = [];
  for (const [name, t] of refs) {
    checkView(name, t);
    tensors.push({ name, dtype: t.storage.dtype, shape: t.shape });
  }
  return { format, metadata: {}, tensors };
}

export { runRangesAsync, runRangesSync } from './zip.ts';
