/**
 * The shared test s3rver's folder store races a delete's empty-folder
 * cleanup against a put into the same prefix (s3rver-folder-guard.mjs). Run
 * in-process on the store itself, where the window is widest: unguarded, this
 * loop fails with ENOENT in its first rounds (checked by disabling the guard);
 * guarded, every put and delete succeeds and the prefix ends holding what was
 * put last.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM module without types
import { guardFolderCleanup } from './s3rver-folder-guard.mjs';

const require = createRequire(import.meta.url);
const FilesystemStore = require('s3rver/lib/stores/filesystem.js');
const dir = mkdtempSync(join(tmpdir(), 'clafusion-s3rver-guard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('puts and deletes racing under one prefix all succeed once guarded', async () => {
  const store = new FilesystemStore(dir);
  guardFolderCleanup(store);
  await store.putBucket('b');
  const keys = Array.from({ length: 4 }, (_, i) => `claims/k${i}`);
  const rounds = 300;
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      keys.map(async (key) => {
        await store.putObject({ bucket: 'b', key, metadata: { 'content-type': 'text/plain' }, content: Buffer.from(`round ${round}`) });
        if (round < rounds - 1) await store.deleteObject('b', key);
      }),
    );
  }
  const listed = await store.listObjects('b', { prefix: 'claims/' });
  expect(listed.objects.map((o: { key: string }) => o.key).sort()).toEqual(keys);
  const last = await store.getObject('b', 'claims/k0');
  const chunks: Buffer[] = [];
  for await (const chunk of last.content) chunks.push(chunk as Buffer);
  expect(Buffer.concat(chunks).toString()).toBe(`round ${rounds - 1}`);
}, 120_000);
