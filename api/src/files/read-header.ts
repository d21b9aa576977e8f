/**
 * Reads a stored upload's safetensors header with two range requests (the
 * 8-byte length, then the JSON), never the tensors, using the engine's own
 * parser so the API rejects exactly what the runner would, with the same
 * messages. A header larger than MAX_HEADER_BYTES is refused before it is
 * fetched.
 */
import { parseSafetensorsHeader, safetensorsHeaderLength, type SafetensorsHeader } from '@clafusion/model-format/safetensors';
import type { ObjectStore } from '@clafusion/contract/ports';

/** Far above any real state dict's header (a ResNet-152's is ~60 KB). */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export async function readStoredHeader(store: ObjectStore, key: string, size: number): Promise<SafetensorsHeader> {
  const prefix = await store.getRange(key, 0, Math.min(8, size));
  const headerLength = safetensorsHeaderLength(prefix, size, { maxHeaderBytes: MAX_HEADER_BYTES });
  const headerBytes = await store.getRange(key, 8, 8 + headerLength);
  return parseSafetensorsHeader(headerBytes, size);
}
