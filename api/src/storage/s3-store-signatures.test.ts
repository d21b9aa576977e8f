/**
 * What only a signature-checking S3 server can show: wrong keys and tampered,
 * expired, re-targeted or resized presigned requests are refused. s3rver
 * accepts all of these (README, S3 fidelity), so this file runs only with
 * `npm run test:radosgw` (CLAFUSION_TEST_S3=radosgw, a one-node Ceph radosgw)
 * and is skipped on the default s3rver run.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3ChecksSignatures, s3Client, s3Credentials, s3Endpoint, s3Server, uniqueName } from '../../../testsupport/servers.ts';
import { S3Store, type S3StoreOptions } from './s3-store.ts';

const bucket = uniqueName('signatures');
const stores: S3Store[] = [];

function makeStore(extra: Partial<S3StoreOptions> = {}): S3Store {
  const store = new S3Store({
    bucket,
    prefix: `${uniqueName('p')}/`,
    endpoint: s3Endpoint(),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3Credentials(),
    maxAttempts: 2,
    ...extra,
  });
  stores.push(store);
  return store;
}

/** The same URL with the last hex digit of its signature changed. */
function tamperSignature(url: string): string {
  const u = new URL(url);
  const sig = u.searchParams.get('X-Amz-Signature')!;
  u.searchParams.set('X-Amz-Signature', sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0'));
  return u.toString();
}

function withParam(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.toString();
}

const put = (url: string, body: Uint8Array | string) => fetch(url, { method: 'PUT', body });
const statusOf = async (r: Promise<Response>) => {
  const res = await r;
  await res.body?.cancel();
  return res.status;
};

describe.skipIf(!s3ChecksSignatures())(`S3Store against a signature-checking server (${s3Server()}; skipped on s3rver, which checks no signatures)`, () => {
  beforeAll(async () => {
    const client = s3Client();
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
  });
  afterAll(() => stores.forEach((s) => s.close()));

  it('a wrong secret: every call fails with a typed unavailable error and nothing is written', async () => {
    const prefix = `${uniqueName('p')}/`;
    const good = makeStore({ prefix });
    const { accessKeyId } = s3Credentials();
    const wrongSecret = makeStore({ prefix, credentials: { accessKeyId, secretAccessKey: randomBytes(30).toString('base64') } });
    const unavailable = { name: 'ObjectStoreError', code: 'unavailable' };
    await expect(wrongSecret.put('k/small', new Uint8Array([1, 2, 3]))).rejects.toMatchObject(unavailable);
    await expect(wrongSecret.put('k/cond', new Uint8Array([1]), { ifAbsent: true })).rejects.toMatchObject(unavailable);
    await expect(wrongSecret.head('k/small')).rejects.toMatchObject(unavailable);
    await expect(wrongSecret.get('k/small')).rejects.toMatchObject(unavailable);
    await expect(wrongSecret.list('k/')).rejects.toMatchObject(unavailable);
    await expect(wrongSecret.put('k/small', new Uint8Array([1]))).rejects.toThrow(/SignatureDoesNotMatch/);
    expect(await good.head('k/small')).toBeNull();
    expect(await good.head('k/cond')).toBeNull();
    expect((await good.list('')).objects).toEqual([]);

    // An access key the server does not know at all: the same typed error.
    const unknownKey = makeStore({ prefix, credentials: { accessKeyId: 'AKIANOSUCHUSER000000', secretAccessKey: 'x'.repeat(40) } });
    await expect(unknownKey.put('k/small', new Uint8Array([1]))).rejects.toMatchObject(unavailable);
    expect(await good.head('k/small')).toBeNull();
  });

  it('a tampered presigned PUT or GET URL gets 403 and writes nothing', async () => {
    const store = makeStore();
    await store.put('t/existing', Buffer.from('original'));
    const putUrl = (await store.presignPut('t/new', { expiresInSeconds: 60 }))!;
    const overwriteUrl = (await store.presignPut('t/existing', { expiresInSeconds: 60 }))!;
    const getUrl = (await store.presignGet('t/existing', { expiresInSeconds: 60 }))!;

    expect(await statusOf(put(tamperSignature(putUrl), 'evil'))).toBe(403);
    expect(await statusOf(put(tamperSignature(overwriteUrl), 'evil'))).toBe(403);
    expect(await statusOf(fetch(tamperSignature(getUrl)))).toBe(403);
    // Stretching the validity window breaks the signature too.
    expect(await statusOf(fetch(withParam(getUrl, 'X-Amz-Expires', '604800')))).toBe(403);
    expect(await statusOf(put(withParam(putUrl, 'X-Amz-Expires', '604800'), 'evil'))).toBe(403);
    // A GET URL does not allow a PUT to the same key.
    expect(await statusOf(put(getUrl, 'evil'))).toBe(403);

    expect(await store.head('t/new')).toBeNull();
    expect(Buffer.from(await store.getBytes('t/existing')).toString()).toBe('original');
    // The untampered URLs still work.
    expect(await statusOf(fetch(getUrl))).toBe(200);
    expect(await statusOf(put(putUrl, 'fine'))).toBe(200);
    expect(Buffer.from(await store.getBytes('t/new')).toString()).toBe('fine');
  });

  it('an expired presigned URL gets 403', async () => {
    const store = makeStore();
    await store.put('e/there', Buffer.from('there'));
    const getUrl = (await store.presignGet('e/there', { expiresInSeconds: 1 }))!;
    const putUrl = (await store.presignPut('e/late', { expiresInSeconds: 1 }))!;
    // SigV4 dates have one-second resolution: wait a full extra second.
    await sleep(2_100);
    expect(await statusOf(fetch(getUrl))).toBe(403);
    expect(await statusOf(put(putUrl, 'late'))).toBe(403);
    expect(await store.head('e/late')).toBeNull();
  });

  it('a presigned PUT URL for key A cannot write key B (same prefix, another prefix, or a sibling)', async () => {
    const storePrefix = `${uniqueName('p')}/`;
    const otherPrefix = `${uniqueName('p')}/`; // another tenant's prefix in the same bucket
    const store = makeStore({ prefix: storePrefix });
    const other = makeStore({ prefix: otherPrefix });
    await store.put('files/b', Buffer.from('b'));
    const urlA = (await store.presignPut('files/a', { expiresInSeconds: 60 }))!;
    expect(urlA).toContain(`${storePrefix}files/a`);

    const retarget = (to: string) => urlA.replace(`${storePrefix}files/a`, to);
    expect(await statusOf(put(retarget(`${storePrefix}files/b`), 'evil'))).toBe(403);
    expect(await statusOf(put(retarget(`${storePrefix}files/a2`), 'evil'))).toBe(403);
    expect(await statusOf(put(retarget(`${otherPrefix}files/a`), 'evil'))).toBe(403);

    expect(Buffer.from(await store.getBytes('files/b')).toString()).toBe('b');
    expect(await store.head('files/a2')).toBeNull();
    expect(await other.head('files/a')).toBeNull();
    expect(await store.head('files/a')).toBeNull();
  });

  it('a presigned PUT signed for a Content-Length refuses bodies of another length', async () => {
    const store = makeStore();
    const data = randomBytes(100);
    const url = (await store.presignPut('len/exact', { expiresInSeconds: 60, contentLength: data.length }))!;
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toContain('content-length');

    const longer = await statusOf(put(url, randomBytes(101)));
    const shorter = await statusOf(put(url, randomBytes(99)));
    const empty = await statusOf(put(url, new Uint8Array(0)));
    expect([longer, shorter, empty]).toEqual([403, 403, 403]);
    expect(await store.head('len/exact')).toBeNull();

    expect(await statusOf(put(url, data))).toBe(200);
    expect(Buffer.from(await store.getBytes('len/exact')).equals(data)).toBe(true);
  });
});
