/**
 * The object-store conformance suite: every ObjectStore adapter runs these
 * same cases (folder-store.test.ts, s3-store.test.ts), in the manner of
 * Hono's `common.case.test.ts`. An adapter passes only if it behaves exactly
 * like the others for everything the service relies on.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStoreError, type ObjectStore } from '@clafusion/contract/ports';
import { readAll } from './body.ts';

export interface ObjectStoreCapabilities {
  /** presignPut/presignGet return URLs (otherwise they must return null). */
  presign: boolean;
  /**
   * The server checks presigned signatures, so a URL signed for one key is
   * refused for another. s3rver does not (it only checks expiry), so against
   * it the suite checks the signature itself instead (see `verifySignedUrl`).
   */
  serverVerifiesSignatures: boolean;
  /** Checks a presigned URL against a different request; used when the server does not. */
  verifySignedUrl?: (url: string, method: 'GET' | 'PUT') => boolean;
  /**
   * The backend lists in true lexicographic order even when a key is also the
   * start of longer keys (`a`, `a-b`, `a/b`). S3, MinIO and Ceph do; s3rver
   * does not (it lists in its folder-walk order, and then StartAfter
   * pagination can skip keys). When false, the listing case uses key shapes
   * whose order s3rver gets right; the full case runs on the folder store.
   */
  listsInLexicographicOrder?: boolean;
}

export interface ConformanceTarget {
  store: ObjectStore;
  /** Called after a failed put; asserts the adapter left no staging data behind. */
  assertNoStagingLeft?: () => Promise<void>;
  close?: () => Promise<void>;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const text = (s: string) => new Uint8Array(Buffer.from(s));

async function expectCode(promise: Promise<unknown>, code: ObjectStoreError['code']): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ObjectStoreError ${code}`).toBeInstanceOf(ObjectStoreError);
  expect((error as ObjectStoreError).code).toBe(code);
}

function chunked(data: Uint8Array, chunkSize: number): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunkSize) yield Buffer.from(data.subarray(i, i + chunkSize));
    })(),
  );
}

/** A body that delivers `good` bytes and then fails, like a dropped client connection or a full disk. */
function failingBody(good: number): Readable {
  return Readable.from(
    (async function* () {
      yield randomBytes(good);
      await sleep(5);
      throw new Error('connection reset by peer');
    })(),
  );
}

export const INVALID_KEYS = [
  '',
  '/abs/path',
  '../escape',
  'a/../../etc/passwd',
  'a/./b',
  'a//b',
  'trailing/',
  'back\\slash',
  'nul\u0000byte',
  'tab\tkey',
  'new\nline',
  '.hidden',
  'a/..',
  'space key',
  'tilde~obj',
  'ünïcode',
  'x'.repeat(1025),
  `a/${'y'.repeat(201)}`,
];

export function runObjectStoreConformance(
  name: string,
  makeTarget: () => Promise<ConformanceTarget>,
  capabilities: ObjectStoreCapabilities,
): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let target: ConformanceTarget;
    let store: ObjectStore;
    beforeAll(async () => {
      target = await makeTarget();
      store = target.store;
    });
    afterAll(async () => {
      await target?.close?.();
    });
    const noStaging = async () => {
      await target.assertNoStagingLeft?.();
    };

    it('round-trips bytes and reports size and sha256', async () => {
      const data = randomBytes(10_000);
      const result = await store.put('rt/bytes.bin', data, { contentType: 'application/octet-stream' });
      expect(result).toEqual({ key: 'rt/bytes.bin', size: data.length, sha256: sha256(data) });
      expect(Buffer.from(await store.getBytes('rt/bytes.bin')).equals(data)).toBe(true);
      expect(Buffer.from(await readAll(await store.get('rt/bytes.bin'))).equals(data)).toBe(true);
    });

    it('round-trips an empty object', async () => {
      const result = await store.put('rt/empty', new Uint8Array(0));
      expect(result.size).toBe(0);
      expect(result.sha256).toBe(sha256(new Uint8Array(0)));
      expect((await store.getBytes('rt/empty')).length).toBe(0);
      expect((await store.head('rt/empty'))?.size).toBe(0);
    });

    it('streams a large body in small chunks (multipart on S3) with the right sha256', async () => {
      const data = randomBytes(6 * 1024 * 1024 + 123);
      const result = await store.put('rt/large.bin', chunked(data, 64 * 1024), { contentType: 'application/x-safetensors' });
      expect(result.size).toBe(data.length);
      expect(result.sha256).toBe(sha256(data));
      const back = Buffer.from(await readAll(await store.get('rt/large.bin')));
      expect(back.length).toBe(data.length);
      expect(back.equals(data)).toBe(true);
      const info = await store.head('rt/large.bin');
      expect(info).toMatchObject({ key: 'rt/large.bin', size: data.length, sha256: sha256(data), contentType: 'application/x-safetensors' });
      await noStaging();
    });

    it('an object stays invisible while its body is still arriving', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const body = Readable.from(
        (async function* () {
          yield Buffer.from('first half, ');
          await gate;
          yield Buffer.from('second half');
        })(),
      );
      const pending = store.put('slow/key', body);
      await sleep(50);
      expect(await store.head('slow/key')).toBeNull();
      expect((await store.list('slow/')).objects).toEqual([]);
      release();
      await pending;
      expect(Buffer.from(await store.getBytes('slow/key')).toString()).toBe('first half, second half');
    });

    it('head returns size, sha256, content type and a recent lastModified; null when absent', async () => {
      const before = Date.now() - 5_000;
      const data = text('{"hello":"world"}');
      await store.put('meta/record.json', data, { contentType: 'application/json' });
      const info = await store.head('meta/record.json');
      expect(info).not.toBeNull();
      expect(info!.key).toBe('meta/record.json');
      expect(info!.size).toBe(data.length);
      expect(info!.sha256).toBe(sha256(data));
      expect(info!.contentType).toBe('application/json');
      expect(info!.lastModified).toBeInstanceOf(Date);
      expect(info!.lastModified.getTime()).toBeGreaterThan(before);
      expect(await store.head('meta/absent.json')).toBeNull();
    });

    it('getRange returns [start, end), clamped to the object', async () => {
      const data = randomBytes(1000);
      await store.put('range/obj', data);
      expect(Buffer.from(await store.getRange('range/obj', 0, 8)).equals(data.subarray(0, 8))).toBe(true);
      expect(Buffer.from(await store.getRange('range/obj', 100, 356)).equals(data.subarray(100, 356))).toBe(true);
      expect(Buffer.from(await store.getRange('range/obj', 990, 5000)).equals(data.subarray(990))).toBe(true);
      expect((await store.getRange('range/obj', 10, 10)).length).toBe(0);
      expect((await store.getRange('range/obj', 1000, 1010)).length).toBe(0);
      await expect(store.getRange('range/obj', 5, 2)).rejects.toThrow(RangeError);
      await expectCode(store.getRange('range/absent', 0, 4), 'not_found');
    });

    it('overwrite replaces content and metadata together', async () => {
      await store.put('ow/key', text('first version'), { contentType: 'text/plain' });
      const second = text('second, longer version');
      await store.put('ow/key', second, { contentType: 'application/json' });
      expect(Buffer.from(await store.getBytes('ow/key')).toString()).toBe('second, longer version');
      expect(await store.head('ow/key')).toMatchObject({ size: second.length, sha256: sha256(second), contentType: 'application/json' });
    });

    it('reports not_found for get, getBytes and getRange of absent keys; delete is idempotent', async () => {
      await expectCode(store.get('nf/absent'), 'not_found');
      await expectCode(store.getBytes('nf/absent'), 'not_found');
      await expectCode(store.getRange('nf/absent', 0, 1), 'not_found');
      await store.delete('nf/absent');
      await store.put('nf/present', text('x'));
      await store.delete('nf/present');
      expect(await store.head('nf/present')).toBeNull();
      await expectCode(store.getBytes('nf/present'), 'not_found');
    });

    it('lists keys under a prefix in lexicographic order, paginated with after/limit', async () => {
      // `-` (0x2d) and `.` (0x2e) sort before `/` (0x2f): a-b comes before a/b, and "ab" after both.
      const keys =
        capabilities.listsInLexicographicOrder === false
          ? ['ls/a/b', 'ls/a/c/d', 'ls/ab', 'ls/b/z', 'ls/c.json', 'ls/d', 'lsx/outside']
          : ['ls/a', 'ls/a-b', 'ls/a.json', 'ls/a/b', 'ls/a/c/d', 'ls/ab', 'ls/b', 'ls/b/z', 'ls/c.json', 'lsx/outside'];
      for (const key of [...keys].reverse()) await store.put(key, text(key));
      const expected = (prefix: string, after = '') => keys.filter((k) => k.startsWith(prefix) && k > after).sort();
      const listed = async (prefix: string, after?: string) => (await store.list(prefix, { after })).objects.map((o) => o.key);

      const all = await store.list('ls/');
      expect(all.objects.map((o) => o.key)).toEqual(expected('ls/'));
      expect(all.next).toBeUndefined();
      const one = all.objects.find((o) => o.key === 'ls/a/b')!;
      expect(one.size).toBe('ls/a/b'.length);
      expect(one.lastModified).toBeInstanceOf(Date);

      const pages: string[][] = [];
      let after: string | undefined;
      for (let guard = 0; guard < 20; guard++) {
        const page = await store.list('ls/', { after, limit: 3 });
        pages.push(page.objects.map((o) => o.key));
        if (!page.next) break;
        after = page.next;
      }
      expect(pages.flat()).toEqual(expected('ls/'));
      expect(pages.slice(0, -1).every((p) => p.length === 3)).toBe(true);

      // A prefix that ends inside a segment, a folder-like prefix, and cursors
      // that are keys or fall between keys.
      expect(await listed('ls/a')).toEqual(expected('ls/a'));
      expect(await listed('ls/a/')).toEqual(expected('ls/a/'));
      expect(await listed('ls/', 'ls/a/b')).toEqual(expected('ls/', 'ls/a/b'));
      expect(await listed('ls/', 'ls/a/c')).toEqual(expected('ls/', 'ls/a/c'));
      expect(await listed('ls/', 'ls/b')).toEqual(expected('ls/', 'ls/b'));
      expect(await listed('nothing-here/')).toEqual([]);

      await store.delete('ls/a/b');
      expect(await listed('ls/a/')).toEqual(['ls/a/c/d']);
    });

    it('rejects keys that could escape the root or are malformed, for every operation', async () => {
      for (const key of INVALID_KEYS) {
        await expectCode(store.put(key, text('x')), 'invalid_key');
        await expectCode(store.get(key), 'invalid_key');
        await expectCode(store.getBytes(key), 'invalid_key');
        await expectCode(store.getRange(key, 0, 1), 'invalid_key');
        await expectCode(store.head(key), 'invalid_key');
        await expectCode(store.delete(key), 'invalid_key');
      }
      await expectCode(store.list('../'), 'invalid_key');
      await expectCode(store.list('/abs'), 'invalid_key');
      await expectCode(store.list('a//'), 'invalid_key');
    });

    it('ifAbsent creates once, then fails with exists and keeps the first content', async () => {
      await store.put('once/key', text('first'), { ifAbsent: true });
      await expectCode(store.put('once/key', text('second'), { ifAbsent: true }), 'exists');
      expect(Buffer.from(await store.getBytes('once/key')).toString()).toBe('first');
    });

    it('ifAbsent race: of concurrent creates exactly one wins', async () => {
      const contenders = 6;
      const results = await Promise.allSettled(
        Array.from({ length: contenders }, (_, i) => store.put('race/key', text(`writer ${i}`), { ifAbsent: true })),
      );
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect((r.reason as ObjectStoreError).code).toBe('exists');
      }
      expect(Buffer.from(await store.getBytes('race/key')).toString()).toBe(`writer ${winners[0]}`);
      await noStaging();
    });

    it('maxBytes: exactly the limit passes; one byte more is too_large and nothing becomes visible', async () => {
      await store.put('max/ok', randomBytes(100), { maxBytes: 100 });
      await expectCode(store.put('max/bytes', randomBytes(101), { maxBytes: 100 }), 'too_large');
      expect(await store.head('max/bytes')).toBeNull();
      await expectCode(store.put('max/stream', chunked(randomBytes(300_000), 16_384), { maxBytes: 200_000 }), 'too_large');
      expect(await store.head('max/stream')).toBeNull();
      // Large enough to take the S3 store's multipart path.
      await expectCode(store.put('max/large', chunked(randomBytes(7 * 1024 * 1024), 256 * 1024), { maxBytes: 6 * 1024 * 1024 }), 'too_large');
      expect(await store.head('max/large')).toBeNull();
      // A refused overwrite keeps the old object.
      await expectCode(store.put('max/ok', randomBytes(101), { maxBytes: 100 }), 'too_large');
      expect((await store.head('max/ok'))?.size).toBe(100);
      await noStaging();
    });

    it('a body stream that fails midway leaves nothing visible (and an existing object intact)', async () => {
      await expect(store.put('fail/new', failingBody(50_000))).rejects.toThrow('connection reset by peer');
      expect(await store.head('fail/new')).toBeNull();
      expect((await store.list('fail/')).objects).toEqual([]);
      // Fails after more than one part (the S3 store's multipart path).
      await expect(store.put('fail/large', failingBody(6 * 1024 * 1024))).rejects.toThrow('connection reset by peer');
      expect(await store.head('fail/large')).toBeNull();
      await store.put('fail/existing', text('keep me'));
      await expect(store.put('fail/existing', failingBody(70_000))).rejects.toThrow('connection reset by peer');
      expect(Buffer.from(await store.getBytes('fail/existing')).toString()).toBe('keep me');
      await noStaging();
    });

    if (!capabilities.presign) {
      it('presign returns null (uploads go through the API)', async () => {
        expect(await store.presignPut('p/key', { expiresInSeconds: 60 })).toBeNull();
        expect(await store.presignGet('p/key', { expiresInSeconds: 60 })).toBeNull();
      });
    } else {
      it('a presigned PUT uploads, a presigned GET downloads', async () => {
        const data = randomBytes(4096);
        const putUrl = await store.presignPut('p/upload.bin', { expiresInSeconds: 60, contentLength: data.length });
        expect(putUrl).toMatch(/^https?:\/\//);
        const put = await fetch(putUrl!, { method: 'PUT', body: data, headers: { 'content-length': String(data.length) } });
        expect(put.status).toBe(200);
        expect(Buffer.from(await store.getBytes('p/upload.bin')).equals(data)).toBe(true);
        const getUrl = await store.presignGet('p/upload.bin', { expiresInSeconds: 60 });
        const got = await fetch(getUrl!);
        expect(got.status).toBe(200);
        expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
        await expectCode(store.presignGet('../x', { expiresInSeconds: 60 }), 'invalid_key');
      });

      it('a presigned URL is valid for its key only', async () => {
        await store.put('p/other.bin', text('other'));
        const putUrl = (await store.presignPut('p/mine.bin', { expiresInSeconds: 60 }))!;
        const getUrl = (await store.presignGet('p/mine.bin', { expiresInSeconds: 60 }))!;
        const forOther = (url: string) => url.replace('p/mine.bin', 'p/other.bin');
        expect(forOther(putUrl)).not.toBe(putUrl);
        if (capabilities.serverVerifiesSignatures) {
          expect((await fetch(forOther(putUrl), { method: 'PUT', body: 'evil' })).status).toBe(403);
          expect((await fetch(forOther(getUrl))).status).toBe(403);
          expect(Buffer.from(await store.getBytes('p/other.bin')).toString()).toBe('other');
        } else {
          expect(capabilities.verifySignedUrl, 'a signature checker is needed when the server does not check').toBeDefined();
          expect(capabilities.verifySignedUrl!(putUrl, 'PUT')).toBe(true);
          expect(capabilities.verifySignedUrl!(getUrl, 'GET')).toBe(true);
          expect(capabilities.verifySignedUrl!(forOther(putUrl), 'PUT')).toBe(false);
          expect(capabilities.verifySignedUrl!(forOther(getUrl), 'GET')).toBe(false);
          expect(capabilities.verifySignedUrl!(putUrl, 'GET')).toBe(false);
        }
      });

      it('a presigned URL stops working after its expiry', async () => {
        await store.put('p/expiring.bin', text('soon gone'));
        const getUrl = (await store.presignGet('p/expiring.bin', { expiresInSeconds: 1 }))!;
        const putUrl = (await store.presignPut('p/expiring-up.bin', { expiresInSeconds: 1 }))!;
        expect((await fetch(getUrl)).status).toBe(200);
        // SigV4 dates have one-second resolution: wait a full extra second.
        await sleep(2_100);
        expect((await fetch(getUrl)).status).toBe(403);
        expect((await fetch(putUrl, { method: 'PUT', body: 'late' })).status).toBe(403);
        expect(await store.head('p/expiring-up.bin')).toBeNull();
      });
    }
  });
}
