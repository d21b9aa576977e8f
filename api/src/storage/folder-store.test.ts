import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FolderStore } from './folder-store.ts';
import { runObjectStoreConformance } from './object-store.conformance.ts';

runObjectStoreConformance(
  'FolderStore',
  async () => {
    const root = await mkdtemp(join(tmpdir(), 'folder-store-'));
    const store = new FolderStore({ root });
    return {
      store,
      // Staging files of failed or refused puts must be gone, not just hidden.
      assertNoStagingLeft: async () => {
        expect(await readdir(join(root, '.staging'))).toEqual([]);
      },
      close: () => rm(root, { recursive: true, force: true }),
    };
  },
  { presign: false, serverVerifiesSignatures: false },
);
