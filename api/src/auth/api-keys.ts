/**
 * API keys: `cfk_<key id>_<secret>` bearer tokens, each bound to one tenant.
 * Only the key's SHA-256 is stored (under its public key id), and the hash of
 * a presented token is compared with `timingSafeEqual`, so neither the store
 * nor response timing reveals a valid key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { TENANT_PATTERN } from '@clafusion/contract';
import { randomToken } from '../ids.ts';
import { readJson, toJson } from '@clafusion/contract/job-log';
import type { ObjectStore } from '@clafusion/contract/ports';
import { layout } from '@clafusion/contract/store-layout';

export interface ApiKeyRecord {
  key_id: string;
  tenant: string;
  /** Hex SHA-256 of the whole token. */
  sha256: string;
  created_at: string;
  label: string | null;
}

const TOKEN = /^cfk_([0-9a-v]{12})_([0-9a-v]{32})$/;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export async function createApiKey(store: ObjectStore, tenant: string, label: string | null = null): Promise<{ token: string; record: ApiKeyRecord }> {
  if (!TENANT_PATTERN.test(tenant)) {
    throw new Error(`tenant must be 1-63 lowercase letters, digits or "-", starting with a letter or digit; got ${JSON.stringify(tenant)}`);
  }
  const keyId = randomToken(12);
  const token = `cfk_${keyId}_${randomToken(32)}`;
  const record: ApiKeyRecord = { key_id: keyId, tenant, sha256: sha256(token).toString('hex'), created_at: new Date().toISOString(), label };
  await store.put(layout.apiKey(keyId), toJson(record), { ifAbsent: true, contentType: 'application/json' });
  return { token, record };
}

/** The tenant a bearer token belongs to, or null for a missing, malformed or unknown token. */
export async function authenticate(store: ObjectStore, authorization: string | undefined | null): Promise<string | null> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return null;
  const token = match[1];
  const parts = TOKEN.exec(token);
  if (!parts) return null;
  const record = await readJson<ApiKeyRecord>(store, layout.apiKey(parts[1]));
  if (!record) return null;
  const expected = Buffer.from(record.sha256, 'hex');
  const presented = sha256(token);
  return expected.length === presented.length && timingSafeEqual(expected, presented) ? record.tenant : null;
}
