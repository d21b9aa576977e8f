import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../storage/index.ts';
import { layout } from '@clafusion/contract/store-layout';
import { authenticate, createApiKey } from './api-keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'api-keys-'));
const store = new FolderStore({ root: dir, fsync: false });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('API keys', () => {
  it('authenticate a bearer token to its tenant and store only its hash', async () => {
    const { token, record } = await createApiKey(store, 'acme', 'ci');
    expect(token).toMatch(/^cfk_[0-9a-v]{12}_[0-9a-v]{32}$/);
    expect(await authenticate(store, `Bearer ${token}`)).toBe('acme');
    expect(await authenticate(store, `bearer   ${token} `)).toBe('acme');
    const stored = new TextDecoder().decode(await store.getBytes(layout.apiKey(record.key_id)));
    expect(stored).not.toContain(token.split('_')[2]);
    expect(JSON.parse(stored)).toMatchObject({ tenant: 'acme', label: 'ci' });
  });

  it('refuse missing, malformed, unknown and tampered tokens', async () => {
    const { token } = await createApiKey(store, 'acme');
    const tampered = `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`;
    for (const header of [undefined, null, '', token, `Basic ${token}`, 'Bearer ', 'Bearer cfk_../../x_y', `Bearer ${tampered}`, 'Bearer cfk_000000000000_00000000000000000000000000000000']) {
      expect(await authenticate(store, header)).toBeNull();
    }
  });

  it('refuse tenant names that are not ids', async () => {
    await expect(createApiKey(store, '../other')).rejects.toThrow(/tenant must be/);
    await expect(createApiKey(store, 'Upper')).rejects.toThrow(/tenant must be/);
  });
});
