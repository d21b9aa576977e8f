/**
 * The smallest and largest label of a dataset's `y`, read once when the
 * file is completed (one range request over y's bytes), so a job whose
 * labels do not fit its models' classes is refused at create instead of
 * failing in the runner.
 */
import type { SafetensorsHeader } from '@clafusion/model-format/safetensors';
import type { FileObject } from '@clafusion/contract';
import type { ObjectStore } from '@clafusion/contract/ports';

/** Labels beyond this many bytes are not scanned (the runner still checks them). */
export const MAX_LABEL_BYTES = 64 * 1024 * 1024;

const READERS: Record<string, { bytes: number; read: (view: DataView, offset: number) => number }> = {
  I64: { bytes: 8, read: (v, o) => Number(v.getBigInt64(o, true)) },
  I32: { bytes: 4, read: (v, o) => v.getInt32(o, true) },
  U8: { bytes: 1, read: (v, o) => v.getUint8(o) },
  I8: { bytes: 1, read: (v, o) => v.getInt8(o) },
};

/** [min, max] of y, or null when there is no y, it is empty, too large to scan, or of a dtype not read here. */
export async function labelRange(store: ObjectStore, key: string, header: SafetensorsHeader): Promise<[number, number] | null> {
  const y = header.tensors.find((t) => t.name === 'y');
  const reader = y ? READERS[y.dtype] : undefined;
  if (!y || !reader) return null;
  const [begin, end] = y.dataOffsets;
  if (end <= begin || end - begin > MAX_LABEL_BYTES) return null;
  const bytes = await store.getRange(key, header.dataStart + begin, header.dataStart + end);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let min = Infinity;
  let max = -Infinity;
  for (let o = 0; o + reader.bytes <= bytes.byteLength; o += reader.bytes) {
    const label = reader.read(view, o);
    if (label < min) min = label;
    if (label > max) max = label;
  }
  return min === Infinity ? null : [min, max];
}

/** The summary with `label_range` when the dataset has labels that could be read. */
export async function withLabelRange(
  summary: NonNullable<FileObject['dataset']>,
  store: ObjectStore,
  key: string,
  header: SafetensorsHeader,
): Promise<NonNullable<FileObject['dataset']>> {
  const range = summary.labels ? await labelRange(store, key, header) : null;
  return range ? { ...summary, label_range: range } : summary;
}
