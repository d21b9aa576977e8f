/**
 * Reads what describes a stored model upload's tensors, whatever its format:
 * a safetensors header (read-header.ts) or a PyTorch checkpoint's directory
 * and pickle (@clafusion/model-format/pytorch), by range requests,
 * never the tensors. The format is told from the first bytes, as the runner
 * tells it when it loads the file.
 */
import { readPytorchHeader, runRangesAsync, sniffPytorchFormat } from '@clafusion/model-format/pytorch/checkpoint';
import type { SafetensorsDtype } from '@clafusion/model-format/dtypes';
import type { ObjectStore } from '@clafusion/contract/ports';
import { MAX_HEADER_BYTES, readStoredHeader } from './read-header.ts';

/** Names, dtypes and shapes of a model file's tensors, and its metadata (empty for a checkpoint). */
export interface ModelHeader {
  metadata: Record<string, string>;
  tensors: { name: string; dtype: SafetensorsDtype; shape: number[] }[];
}

export async function readStoredModelHeader(store: ObjectStore, key: string, size: number): Promise<ModelHeader> {
  const prefix = size > 0 ? await store.getRange(key, 0, Math.min(16, size)) : new Uint8Array(0);
  if (sniffPytorchFormat(prefix) === null) return readStoredHeader(store, key, size);
  return runRangesAsync(readPytorchHeader(size, { maxPickleBytes: MAX_HEADER_BYTES, maxInflatedBytes: MAX_HEADER_BYTES }), (start, end) =>
    store.getRange(key, start, end),
  );
}
