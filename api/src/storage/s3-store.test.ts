import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3ChecksSignatures, s3Client, s3Credentials, s3Endpoint, s3Server, uniqueName } from '../../../testsupport/servers.ts';
import { verifyPresignedUrl } from '../../../testsupport/sigv4.ts';
import { runObjectStoreConformance } from './object-store.conformance.ts';
import { S3Store, type S3StoreOptions } from './s3-store.ts';

// One bucket for this file; each store below works under its own key prefix.
const bucket = uniqueName('conformance');
const admin = () => s3Client();

beforeAll(async () => {
  const client = admin();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
});

function makeStore(extra: Partial<S3StoreOptions> = {}): S3Store {
  return new S3Store({
    bucket,
    prefix: `${uniqueName('p')}/`,
    endpoint: s3Endpoint(),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3Credentials(),
    // The smallest part S3 allows, so the 6 MiB conformance case goes multipart.
    partSizeBytes: 5 * 1024 * 1024,
    ...extra,
  });
}

/** More than one 5 MiB part: the store's multipart + CopyObject path. */
const bigBody = (fill: number) => new Uint8Array(6 * 1024 * 1024).fill(fill);

/** Staging objects of failed or refused puts must be deleted. */
async function stagingLeft(store: S3Store, prefix: string): Promise<number> {
  const client = admin();
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}.staging/` }));
  client.destroy();
  return out.KeyCount ?? 0;
}

runObjectStoreConformance(
  `S3Store on ${s3Server()}`,
  async () => {
    const prefix = `${uniqueName('p')}/`;
    const store = makeStore({ prefix });
    return {
      store,
      assertNoStagingLeft: async () => expect(await stagingLeft(store, prefix)).toBe(0),
      close: async () => store.close(),
    };
  },
  {
    presign: true,
    // radosgw (CLAFUSION_TEST_S3=radosgw) checks signatures and lists like S3; s3rver does neither.
    serverVerifiesSignatures: s3ChecksSignatures(),
    listsInLexicographicOrder: s3ChecksSignatures(),
    verifySignedUrl: (url, method) => verifyPresignedUrl(url, method, s3Credentials().secretAccessKey),
  },
);

describe('S3Store specifics', () => {
  const stores: S3Store[] = [];
  afterAll(() => stores.forEach((s) => s.close()));
  const track = (s: S3Store) => (stores.push(s), s);

  it.runIf(s3Server() === 's3rver')('detects that s3rver ignores If-None-Match on PUT and falls back to the in-process check', async () => {
    const store = track(makeStore());
    expect(await store.conditionalMode()).toBe('in-process');
  });

  // radosgw (npm run test:radosgw) refuses a conditional PUT with 412, but ignores
  // If-None-Match on the CopyObject that places multipart-sized bodies.
  it.runIf(s3Server() === 'radosgw')('detects that radosgw honours If-None-Match on PUT and uses native conditional writes', async () => {
    const store = track(makeStore());
    expect(await store.conditionalMode()).toBe('native');
  });

  it.runIf(s3Server() === 'radosgw')('an explicit "native" mode on radosgw overwrites a multipart-sized body (why auto mode probes CopyObject too)', async () => {
    const store = track(makeStore({ conditionalWrites: 'native' }));
    await store.put('big/key', bigBody(1), { ifAbsent: true });
    await store.put('big/key', bigBody(2), { ifAbsent: true });
    expect([...(await store.getRange('big/key', 0, 2))]).toEqual([2, 2]);
  });

  it('ifAbsent refuses a multipart-sized body for an existing key and keeps the first content (auto mode)', async () => {
    const prefix = `${uniqueName('p')}/`;
    const store = track(makeStore({ prefix }));
    await store.put('big/key', bigBody(1), { ifAbsent: true });
    await expect(store.put('big/key', bigBody(2), { ifAbsent: true })).rejects.toMatchObject({ name: 'ObjectStoreError', code: 'exists' });
    expect([...(await store.getRange('big/key', 0, 2))]).toEqual([1, 1]);
    expect(await stagingLeft(store, prefix)).toBe(0);
  });

  it.runIf(s3Server() === 's3rver')('an explicit "native" mode trusts the server (documents why auto-detection matters)', async () => {
    // s3rver ignores the header, so a "native" store on it overwrites: the
    // probe exists precisely to not silently lose ifAbsent this way.
    const store = track(makeStore({ conditionalWrites: 'native' }));
    await store.put('k', new Uint8Array([1]), { ifAbsent: true });
    await store.put('k', new Uint8Array([2]), { ifAbsent: true });
    expect([...(await store.getBytes('k'))]).toEqual([2]);
  });

  it('keeps stores with different prefixes apart in one bucket', async () => {
    const a = track(makeStore());
    const b = track(makeStore());
    await a.put('same/key', new Uint8Array([1]));
    expect(await b.head('same/key')).toBeNull();
    expect((await b.list('')).objects).toEqual([]);
    expect((await a.list('')).objects.map((o) => o.key)).toEqual(['same/key']);
  });

  it('maps an unreachable endpoint to unavailable after its retries', async () => {
    const store = track(makeStore({ endpoint: 'http://127.0.0.1:9', maxAttempts: 2 }));
    await expect(store.head('x')).rejects.toMatchObject({ name: 'ObjectStoreError', code: 'unavailable' });
  });

  it('ensureBucket creates a missing bucket and accepts an existing one', async () => {
    const store = track(makeStore({ bucket: uniqueName('ensure') }));
    await store.ensureBucket();
    await store.ensureBucket();
    await store.put('after/ensure', new Uint8Array([7]));
    expect((await store.head('after/ensure'))?.size).toBe(1);
  });
});
