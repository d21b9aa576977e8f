/**
 * The other half of file deletion's handshake (file-lifecycle.ts): whoever
 * starts using a file writes that first, then checks here that the file is
 * neither being deleted nor gone.
 */
import type { FusionJob } from '@clafusion/contract';
import { ApiError } from '../errors.ts';
import type { ObjectStore } from '@clafusion/contract/ports';
import { layout } from '@clafusion/contract/store-layout';
import { lifecycleKeys } from '@clafusion/contract/lifecycle-keys';

export function inputFileIds(inputs: FusionJob['inputs']): string[] {
  return [...inputs.models.map((m) => m.file), inputs.calibration.file, ...(inputs.evaluation ? [inputs.evaluation.file] : []), ...(inputs.train ? [inputs.train.file] : [])];
}

/**
 * Throws (404 naming the file) when one of `ids` is being deleted or gone.
 * Called after the caller wrote what makes it a user of the files.
 */
export async function assertFilesLive(store: ObjectStore, tenant: string, ids: readonly string[]): Promise<void> {
  for (const id of new Set(ids)) {
    const [tombstone, record] = await Promise.all([store.head(lifecycleKeys.fileTombstone(tenant, id)), store.head(layout.fileRecord(tenant, id))]);
    if (tombstone !== null || record === null) {
      throw new ApiError('not_found', `File ${id} was deleted while this request used it`, { id });
    }
  }
}
