/**
 * The S3 store under network and server faults (issue #9): the real shared
 * s3rver behind the fault-injecting proxy (testsupport/fault-proxy.ts). Every
 * operation either succeeds after retrying or fails with a typed
 * ObjectStoreError('unavailable') that names the key; it never returns wrong
 * bytes, and no half-written object ever becomes visible.
 */
import { createHash } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Fault, FaultProxy } from '../../../testsupport/fault-proxy.ts';
import { s3Endpoint, s3rverClient, s3rverClientConfig, uniqueName } from '../../../testsupport/servers.ts';
import { ObjectStoreError } from '@clafusion/contract/ports';
import { readAll } from './body.ts';
import { S3Store, type S3StoreOptions } from './s3-store.ts';

const bucket = uniqueName('faults');
let proxy: FaultProxy;
const stores: S3Store[] = [];

beforeAll(async () => {
  const admin = s3rverClient();
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  admin.destroy();
  proxy = await FaultProxy.start(s3Endpoint(), { seed: 20261128 });
});

afterEach(() => proxy.clear());

afterAll(async () => {
  stores.forEach((s) => s.close());
  await proxy.close();
});

function makeStore(extra: Partial<S3StoreOptions> = {}): S3Store {
  const store = new S3Store({
    bucket,
    prefix: `${uniqueName('p')}/`,
    endpoint: proxy.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3rverClientConfig().credentials as S3StoreOptions['credentials'],
    partSizeBytes: 5 * 1024 * 1024,
    ...extra,
  });
  stores.push(store);
  return store;
}

/** The request path of an object (path style: /bucket/prefix+key, then the query). */
function objectPath(store: S3Store, key: string): RegExp {
  const prefix = (store as unknown as { prefix: string }).prefix;
  return new RegExp(`^/${bucket}/${escapeRe(prefix + key)}(\\?|$)`);
}
const listPath = new RegExp(`^/${bucket}/?\\?(.*&)?list-type=2`);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function bytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function expectUnavailable(promise: Promise<unknown>, key: string): Promise<ObjectStoreError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the operation to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ObjectStoreError);
  expect(err).toMatchObject({ code: 'unavailable', key });
  expect((err as Error).message).toContain(key);
  return err as ObjectStoreError;
}

const TRANSIENT: { name: string; fault: Fault }[] = [
  { name: 'latency', fault: { kind: 'latency', ms: 30 } },
  { name: '500', fault: { kind: 'status', status: 500 } },
  { name: '503', fault: { kind: 'status', status: 503 } },
  { name: 'reset before forwarding', fault: { kind: 'reset', phase: 'request' } },
  { name: 'reset after the server answered', fault: { kind: 'reset', phase: 'response' } },
  // PUT and HEAD answers have no body: cut after their headers, they are complete (nothing to retry).
  { name: 'truncated response', fault: { kind: 'truncate', afterBytes: 100 } },
];

describe('S3Store through a faulty network', () => {
  describe('downloads', () => {
    for (const { name, fault } of TRANSIENT) {
      it(`getBytes, getRange and get survive two GETs with: ${name}`, async () => {
        const store = makeStore();
        const data = bytes(50_000, 1);
        await store.put('d/obj', data);
        const before = proxy.stats.faults[fault.kind];
        proxy.addRule({ match: { method: 'GET', path: objectPath(store, 'd/obj') }, fault, times: 2 });
        expect(Buffer.from(await store.getBytes('d/obj')).equals(data)).toBe(true);
        // A delayed GET is not retried: the latency rule's second turn goes to the next request.
        expect(proxy.stats.faults[fault.kind] - before).toBe(fault.kind === 'latency' ? 1 : 2);

        proxy.addRule({ match: { method: 'GET', path: objectPath(store, 'd/obj') }, fault, times: 2 });
        expect(Buffer.from(await store.getRange('d/obj', 1000, 31_000)).equals(data.subarray(1000, 31_000))).toBe(true);

        if (fault.kind === 'truncate') return; // a streamed get is not retried: its cut is checked below
        proxy.addRule({ match: { method: 'GET', path: objectPath(store, 'd/obj') }, fault, times: 2 });
        expect(Buffer.from(await readAll(await store.get('d/obj'))).equals(data)).toBe(true);
      });
    }

    it('a body that keeps arriving cut short: getBytes and getRange give up with unavailable, get errors instead of ending', async () => {
      const store = makeStore();
      const data = bytes(20_000, 2);
      await store.put('d/cut', data);
      proxy.addRule({ match: { method: 'GET', path: objectPath(store, 'd/cut') }, fault: { kind: 'truncate', afterBytes: 5000 } });
      const err = await expectUnavailable(store.getBytes('d/cut'), 'd/cut');
      expect(err.message).toMatch(/4 attempts/);
      await expectUnavailable(store.getRange('d/cut', 0, 10_000), 'd/cut');
      // Node's http client already fails a body cut short of its Content-Length ('aborted');
      // the store's stream turns that into unavailable, never a clean, short end.
      const stream = await store.get('d/cut');
      await expectUnavailable(readAll(stream), 'd/cut');
    });

    it('an object whose bytes do not match its recorded sha256 is never returned', async () => {
      const store = makeStore();
      const prefix = (store as unknown as { prefix: string }).prefix;
      // Written around the store (as a damaged disk or a buggy writer would leave it):
      // right length, wrong content for the sha256 in its metadata.
      const good = bytes(4000, 3);
      const bad = Buffer.from(good);
      bad[1234] ^= 0xff;
      await store.client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}d/damaged`, Body: bad, Metadata: { sha256: sha256(good) } }));
      const err = await expectUnavailable(store.getBytes('d/damaged'), 'd/damaged');
      expect(err.message).toMatch(/sha256/);
      await expectUnavailable(readAll(await store.get('d/damaged')), 'd/damaged');
      // A range cannot be checked against the whole-object hash, but it is exactly the bytes stored.
      expect(Buffer.from(await store.getRange('d/damaged', 0, 10)).equals(bad.subarray(0, 10))).toBe(true);
    });

    it('a server that never answers: each request times out and the read ends unavailable, not hung', async () => {
      const store = makeStore({ maxAttempts: 2, socketTimeoutMs: 300 });
      await store.put('d/stuck', bytes(10, 13));
      proxy.addRule({ match: { method: 'GET', path: objectPath(store, 'd/stuck') }, fault: { kind: 'hold' } });
      const read = store.getBytes('d/stuck');
      const first = await proxy.nextHeld({ path: objectPath(store, 'd/stuck') });
      expect(first).toMatchObject({ method: 'GET' });
      await expectUnavailable(read, 'd/stuck');
      // Both attempts (maxAttempts 2) were held and timed out; let them go.
      const second = await proxy.nextHeld({ path: objectPath(store, 'd/stuck') });
      first.drop();
      second.drop();
      proxy.clear();
      expect((await store.getBytes('d/stuck')).byteLength).toBe(10);
    });

    it('a GET that always fails: unavailable naming the key; a missing key is still not_found', async () => {
      const store = makeStore({ maxAttempts: 2 });
      await store.put('d/down', bytes(10, 4));
      proxy.addRule({ match: { method: 'GET' }, fault: { kind: 'status', status: 503 } });
      await expectUnavailable(store.getBytes('d/down'), 'd/down');
      await expectUnavailable(store.get('d/down'), 'd/down');
      proxy.clear();
      await expect(store.getBytes('d/none')).rejects.toMatchObject({ code: 'not_found' });
    });
  });

  describe('uploads', () => {
    for (const { name, fault } of TRANSIENT) {
      it(`put (one part, plain and ifAbsent) survives two PUTs with: ${name}`, async () => {
        const store = makeStore();
        const data = bytes(30_000, 5);
        const before = proxy.stats.faults[fault.kind];
        proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'u/obj') }, fault, times: 2 });
        expect(await store.put('u/obj', data)).toEqual({ key: 'u/obj', size: data.length, sha256: sha256(data) });
        expect(Buffer.from(await store.getBytes('u/obj')).equals(data)).toBe(true);

        // On s3rver (which ignores If-None-Match) ifAbsent is HEAD + PUT under a lock, and a retried
        // PUT of our own bytes simply overwrites them; on a native server (radosgw) the retry's 412
        // is recognised as our own write by the object's write id.
        await store.conditionalMode();
        proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'u/once') }, fault, times: 2 });
        await store.put('u/once', data, { ifAbsent: true });
        expect((await store.head('u/once'))?.sha256).toBe(sha256(data));
        await expect(store.put('u/once', data, { ifAbsent: true })).rejects.toMatchObject({ code: 'exists' });
        expect(proxy.stats.faults[fault.kind] - before).toBeGreaterThanOrEqual(fault.kind === 'latency' || fault.kind === 'truncate' ? 2 : 4);
      });
    }

    it('single-part puts carry Content-MD5, so a server that checks it refuses a damaged body', async () => {
      const store = makeStore();
      const seen: (string | undefined)[] = [];
      store.client.middlewareStack.add(
        (next) => async (args) => {
          const request = args.request as { method?: string; headers?: Record<string, string> };
          if (request.method === 'PUT') seen.push(request.headers?.['content-md5']);
          return next(args);
        },
        { step: 'finalizeRequest', name: 'captureMd5' },
      );
      const data = bytes(1000, 6);
      await store.put('u/md5', data);
      expect(seen).toEqual([createHash('md5').update(data).digest('base64')]);
      // A BadDigest (what AWS and radosgw answer to a body damaged on the way) is sent again.
      proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'u/md5b') }, fault: { kind: 'status', status: 400 }, times: 1 });
      await store.put('u/md5b', data);
      expect(Buffer.from(await store.getBytes('u/md5b')).equals(data)).toBe(true);
    });

    it('a multipart put survives faults on its parts, the copy into place and the staging cleanup', async () => {
      const store = makeStore();
      const data = bytes(6 * 1024 * 1024 + 123, 7);
      proxy.addRule({ match: { method: 'PUT', path: /[?&]partNumber=/ }, fault: { kind: 'reset', phase: 'response' }, times: 1 });
      proxy.addRule({ match: { method: 'PUT', path: /[?&]partNumber=/ }, fault: { kind: 'status', status: 500 }, times: 1 });
      proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'u/big') }, fault: { kind: 'reset', phase: 'response' }, times: 1 });
      proxy.addRule({ match: { method: 'DELETE' }, fault: { kind: 'status', status: 503 }, times: 1 });
      const result = await store.put('u/big', data);
      expect(result).toEqual({ key: 'u/big', size: data.length, sha256: sha256(data) });
      proxy.clear();
      expect(Buffer.from(await store.getBytes('u/big')).equals(data)).toBe(true);
    });

    it('a PUT that always fails: unavailable naming the key, and nothing becomes visible', async () => {
      const store = makeStore({ maxAttempts: 3 });
      proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'u/never') }, fault: { kind: 'status', status: 500 } });
      await expectUnavailable(store.put('u/never', bytes(100, 8)), 'u/never');
      proxy.clear();
      expect(await store.head('u/never')).toBeNull();
      expect((await store.list('u/')).objects).toEqual([]);
    });

    describe('create-only puts on a server that honours If-None-Match (native mode)', () => {
      // s3rver ignores If-None-Match; the proxy plays the part of a server that
      // honours it, answering 412 where such a server would.
      it('a retried create whose first attempt the server applied is our own success, not "exists"', async () => {
        const store = makeStore({ conditionalWrites: 'native' });
        const data = bytes(2000, 9);
        // Attempt 1 reaches s3rver (stored) but its answer is lost; attempt 2 gets the 412 a native server gives.
        proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'n/ev') }, fault: { kind: 'reset', phase: 'response' }, times: 1 });
        proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'n/ev') }, fault: { kind: 'status', status: 412 }, times: 1 });
        expect(await store.put('n/ev', data, { ifAbsent: true })).toEqual({ key: 'n/ev', size: data.length, sha256: sha256(data) });
        expect(Buffer.from(await store.getBytes('n/ev')).equals(data)).toBe(true);
      });

      it('a 412 on the first attempt, or on a retry over someone else’s object, is "exists"', async () => {
        const store = makeStore({ conditionalWrites: 'native' });
        const theirs = bytes(2000, 10);
        const ours = bytes(2000, 11);
        await store.put('n/taken', theirs);
        proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'n/taken') }, fault: { kind: 'status', status: 412 }, times: 1 });
        await expect(store.put('n/taken', ours, { ifAbsent: true })).rejects.toMatchObject({ code: 'exists', key: 'n/taken' });
        // Attempt 1 never reached the server; the retry's 412 is about their object, not ours.
        proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'n/taken') }, fault: { kind: 'reset', phase: 'request' }, times: 1 });
        proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'n/taken') }, fault: { kind: 'status', status: 412 }, times: 1 });
        await expect(store.put('n/taken', ours, { ifAbsent: true })).rejects.toMatchObject({ code: 'exists', key: 'n/taken' });
        expect(Buffer.from(await store.getBytes('n/taken')).equals(theirs)).toBe(true);
        // Even for the very same bytes: an earlier put's object is not this put's own write.
        proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'n/taken') }, fault: { kind: 'reset', phase: 'request' }, times: 1 });
        proxy.addRule({ match: { method: 'PUT', path: objectPath(store, 'n/taken') }, fault: { kind: 'status', status: 412 }, times: 1 });
        await expect(store.put('n/taken', theirs, { ifAbsent: true })).rejects.toMatchObject({ code: 'exists', key: 'n/taken' });
      });
    });
  });

  describe('metadata', () => {
    for (const { name, fault } of TRANSIENT) {
      it(`head and list survive two requests with: ${name}`, async () => {
        const store = makeStore();
        const data = bytes(300, 12);
        await store.put('m/a', data);
        await store.put('m/b', data);
        const before = proxy.stats.faults[fault.kind];
        proxy.addRule({ match: { method: 'HEAD', path: objectPath(store, 'm/a') }, fault, times: 2 });
        expect(await store.head('m/a')).toMatchObject({ key: 'm/a', size: 300, sha256: sha256(data) });
        proxy.addRule({ match: { method: 'GET', path: listPath }, fault, times: 2 });
        expect((await store.list('m/')).objects.map((o) => o.key)).toEqual(['m/a', 'm/b']);
        expect(proxy.stats.faults[fault.kind] - before).toBeGreaterThanOrEqual(fault.kind === 'latency' || fault.kind === 'truncate' ? 2 : 4);
      });
    }

    it('HEAD and LIST that always fail: unavailable naming the key or prefix', async () => {
      const store = makeStore({ maxAttempts: 2 });
      proxy.addRule({ match: { method: 'HEAD' }, fault: { kind: 'reset', phase: 'request' } });
      await expectUnavailable(store.head('m/x'), 'm/x');
      proxy.addRule({ match: { method: 'GET', path: listPath }, fault: { kind: 'truncate', afterBytes: 50 } });
      await store.put('m/a', bytes(10, 1));
      await expectUnavailable(store.list('m/'), 'm/');
    });
  });

  it('a seeded run with one request in five faulted: every get is exact, nothing half-written is ever visible', async () => {
    const store = makeStore();
    const rules: { fault: Fault; probability: number }[] = [
      { fault: { kind: 'latency', ms: 5 }, probability: 0.1 },
      { fault: { kind: 'status', status: 500 }, probability: 0.04 },
      { fault: { kind: 'status', status: 503 }, probability: 0.04 },
      { fault: { kind: 'reset', phase: 'request' }, probability: 0.04 },
      { fault: { kind: 'reset', phase: 'response' }, probability: 0.04 },
      { fault: { kind: 'truncate' }, probability: 0.05 },
    ];
    for (const r of rules) proxy.addRule(r);
    const before = structuredClone(proxy.stats);

    // Each key may hold any of the contents a put of it was attempted with since its last successful put.
    const candidates = new Map<string, Set<string>>();
    // Keys a put succeeded on at least once: they can never be missing again.
    const confirmed = new Set<string>();
    let gets = 0;
    let failures = 0;
    let rng = 12345;
    const next = () => (rng = (Math.imul(rng, 1103515245) + 12345) >>> 0);
    for (let round = 0; round < 60; round++) {
      const key = `r/k${(next() >>> 16) % 12}`;
      const data = bytes(next() % 40_000, next());
      const digest = sha256(data);
      try {
        expect(await store.put(key, data)).toMatchObject({ size: data.length, sha256: digest });
        candidates.set(key, new Set([digest]));
        confirmed.add(key);
      } catch (e) {
        expect(e).toMatchObject({ name: 'ObjectStoreError', code: 'unavailable', key });
        failures++;
        candidates.set(key, new Set([...(candidates.get(key) ?? []), digest]));
      }
      const readKey = `r/k${(next() >>> 16) % 12}`;
      const allowed = candidates.get(readKey);
      try {
        const got = await store.getBytes(readKey);
        expect(allowed?.has(sha256(got)), `${readKey} returned bytes no put wrote`).toBe(true);
        gets++;
      } catch (e) {
        if ((e as ObjectStoreError).code === 'not_found') expect(confirmed.has(readKey), `${readKey} vanished`).toBe(false);
        else {
          expect(e).toMatchObject({ name: 'ObjectStoreError', code: 'unavailable', key: readKey });
          failures++;
        }
      }
    }
    const injected = (kind: keyof typeof before.faults) => proxy.stats.faults[kind] - before.faults[kind];
    for (const kind of ['latency', 'status', 'reset', 'truncate'] as const) expect(injected(kind), kind).toBeGreaterThan(0);
    expect(gets).toBeGreaterThan(30);
    expect(failures).toBeLessThan(10);

    // Faults off: every object listed is complete, with the sha256 of one of the puts attempted.
    proxy.clear();
    const listed = (await store.list('r/')).objects;
    for (const { key, size } of listed) {
      const info = await store.head(key);
      expect(candidates.get(key)?.has(info!.sha256!), key).toBe(true);
      const content = await store.getBytes(key);
      expect(content.byteLength).toBe(size);
      expect(sha256(content)).toBe(info!.sha256);
    }
    // Every key a put succeeded on is listed.
    expect(listed.map((o) => o.key)).toEqual(expect.arrayContaining([...confirmed]));
  });
});
