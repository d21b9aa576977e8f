/**
 * Create-only claims: of several API instances about to do the same
 * one-off work (a retention deletion), the one whose create-only put wins
 * does it. A claim left by an instance that died mid-way is taken over once
 * it is older than STALE_AFTER_MS; the work it guards is idempotent, so a
 * rare double take-over repeats harmless deletes.
 */
import { toJson } from '@clafusion/contract/job-log';
import { type ObjectStore, ObjectStoreError } from '@clafusion/contract/ports';

export const STALE_AFTER_MS = 10 * 60_000;

export async function claimOnce(store: ObjectStore, key: string, now: Date, staleAfterMs = STALE_AFTER_MS): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await store.put(key, toJson({ at: now.toISOString(), pid: process.pid }), { ifAbsent: true, contentType: 'application/json' });
      return true;
    } catch (err) {
      if (!(err instanceof ObjectStoreError && err.code === 'exists')) throw err;
    }
    // The claim's age from its metadata: reading its body could race its owner's delete.
    const held = await store.head(key);
    if (held && now.getTime() - held.lastModified.getTime() < staleAfterMs) return false;
    await store.delete(key);
  }
  return false;
}

export async function releaseClaim(store: ObjectStore, key: string): Promise<void> {
  await store.delete(key);
}
