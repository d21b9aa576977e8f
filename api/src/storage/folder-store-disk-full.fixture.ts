/**
 * The disk-full scenario of folder-store-disk-full.test.ts, run against a
 * folder store whose root is a small, real filesystem (a 1 MiB tmpfs).
 *
 * It runs either inside the test process (when the test could mount the
 * tmpfs itself, as root) or as a child process inside a user + mount
 * namespace (`unshare -rm`, where an unprivileged user may mount a tmpfs):
 * `node --import tsx folder-store-disk-full.fixture.ts <root>` prints the
 * report as one JSON line. So it only observes and reports; the test asserts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { open, readdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { createApiKey } from '../auth/api-keys.ts';
import type { FusionQueueData } from '@clafusion/contract/queue-data';
import { ObjectStoreError } from '@clafusion/contract/ports';
import { InProcessQueue } from '../queue/in-process-queue.ts';
import { startServer } from '../server.ts';
import { FolderStore } from './folder-store.ts';

const KiB = 1024;

export interface PutOutcome {
  ok: boolean;
  sha256?: string;
  error?: { name: string; code?: string; key?: string; message: string };
}

export interface DiskFullReport {
  fsBytes: number;
  key: string;
  v1: { size: number; sha256: string };
  /** Overwriting `key` with a body larger than the filesystem. */
  overwrite: PutOutcome;
  afterOverwrite: { head: { size: number; sha256?: string } | null; contentSha256: string | null };
  /** A new key with a body larger than the filesystem. */
  freshKey: string;
  fresh: PutOutcome;
  afterFresh: { head: unknown; listed: string[]; staging: string[] };
  /** A put that fits only if the failed puts gave their space back. */
  afterwards: PutOutcome & { size: number };
  http: {
    declared: number;
    put: { status?: number; body?: string; clientError?: string };
    file: { status: number; body: string };
    complete: { status: number; body: string };
    contentHead: unknown;
    staging: string[];
    /** Once the failed upload's space is back, a small upload still works. */
    smallUpload: { put: number; complete: number; completeBody: string };
    /** With no space left at all, creating a file (a small JSON record, a tRPC procedure behind REST) fails too. */
    createWhenFull: { status: number; body: string };
    /** …and once space is freed, it works again. */
    createAfterFreeing: number;
  };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function describeError(e: unknown): NonNullable<PutOutcome['error']> {
  if (e instanceof ObjectStoreError) return { name: e.name, code: e.code, key: e.key, message: e.message };
  const err = e as Error;
  return { name: err?.name ?? 'unknown', message: String(err?.message ?? e) };
}

async function tryPut(store: FolderStore, key: string, body: Uint8Array | Readable): Promise<PutOutcome> {
  try {
    const r = await store.put(key, body);
    return { ok: true, sha256: r.sha256 };
  } catch (e) {
    return { ok: false, error: describeError(e) };
  }
}

/** A body of `size` random bytes, streamed in 64 KiB chunks (as an upload arrives). */
function streamed(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(64 * KiB, left);
      left -= n;
      this.push(randomBytes(n));
    },
  });
}

/** PUT with a declared Content-Length over plain node:http; reports the answer or the connection error. */
function rawPut(url: string, headers: Record<string, string>, body: Readable, length: number): Promise<{ status?: number; body?: string; clientError?: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: { status?: number; body?: string; clientError?: string }) => {
      if (!settled) resolve(r);
      settled = true;
    };
    const req = request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(length) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => done({ status: res.statusCode, body: text }));
      res.on('error', (e) => done({ status: res.statusCode, body: text, clientError: String(e) }));
    });
    // The server may answer before it read the whole body and close: the rest of our writes then fail, which is fine.
    req.on('error', (e) => setTimeout(() => done({ clientError: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` }), 200));
    body.on('error', () => undefined);
    body.pipe(req);
  });
}

/** Writes 4 KiB pages to `path` until the filesystem refuses (ENOSPC). */
async function fillUp(path: string): Promise<void> {
  const fh = await open(path, 'w');
  const page = Buffer.alloc(4096, 1);
  try {
    for (;;) await fh.write(page);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    await fh.close();
  }
}

async function stagingNames(root: string): Promise<string[]> {
  return readdir(join(root, '.staging')).catch(() => []);
}

export async function runDiskFullScenario(root: string): Promise<DiskFullReport> {
  const fs = await statfs(root);
  const fsBytes = fs.blocks * fs.bsize;
  const store = new FolderStore({ root });

  // 1. A stored object, then an overwrite of it that cannot fit.
  const key = 'tenants/t1/files/file_1/content';
  const v1Bytes = randomBytes(300 * KiB);
  const v1 = await store.put(key, v1Bytes);
  const overwrite = await tryPut(store, key, streamed(2 * fsBytes));
  const head = await store.head(key);
  const afterOverwrite = {
    head: head && { size: head.size, sha256: head.sha256 },
    contentSha256: head ? sha(await store.getBytes(key)) : null,
  };

  // 2. A new key that cannot fit (an in-memory body this time).
  const freshKey = 'tenants/t1/files/file_2/content';
  const fresh = await tryPut(store, freshKey, randomBytes(2 * fsBytes));
  const afterFresh = {
    head: await store.head(freshKey),
    listed: (await store.list('tenants/t1/')).objects.map((o) => o.key),
    staging: await stagingNames(root),
  };

  // 3. Space is back: 600 KiB fits next to v1 only if neither failed put left its staging file.
  const size = 600 * KiB;
  const afterwards = { ...(await tryPut(store, 'tenants/t1/files/file_3/content', streamed(size))), size };
  await store.delete('tenants/t1/files/file_3/content');

  // 4. The same through the HTTP API: an upload bigger than the free space.
  const queue = new InProcessQueue<FusionQueueData>();
  const server = await startServer({
    store,
    queue,
    host: '127.0.0.1',
    port: 0,
    inProcessRunners: 0,
    requeueOnStart: false,
    maxUploadBytes: 4 * fsBytes,
    presignSeconds: 600,
    eventPollMs: 50,
    publicUrl: null,
  });
  try {
    const { token } = await createApiKey(store, 'acme');
    const auth = { authorization: `Bearer ${token}` };
    const json = async (path: string, init: { method?: string; body?: unknown } = {}) => {
      const res = await fetch(`${server.url}${path}`, {
        method: init.method ?? 'GET',
        headers: { ...auth, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      return { status: res.status, body: await res.text() };
    };
    const declared = 2 * fsBytes;
    const created = await json('/v1/files', { method: 'POST', body: { name: 'big.safetensors', purpose: 'model', size: declared } });
    if (created.status !== 200 && created.status !== 201) throw new Error(`create file → ${created.status} ${created.body}`);
    const { file, upload } = JSON.parse(created.body) as { file: { id: string }; upload: { url: string; via_api: boolean } };
    if (!upload.via_api) throw new Error('the folder store should stream uploads through the API');
    const put = await rawPut(upload.url, { ...auth, 'content-type': 'application/octet-stream' }, streamed(declared), declared);
    const fileNow = await json(`/v1/files/${file.id}`);
    const complete = await json(`/v1/files/${file.id}/complete`, { method: 'POST' });
    const contentHead = await store.head(`tenants/acme/files/${file.id}/content`);
    const staging = await stagingNames(root);

    // A small upload afterwards: the failed one gave its space back.
    const smallBytes = randomBytes(100 * KiB);
    const small = await json('/v1/files', { method: 'POST', body: { name: 'small.bin', purpose: 'model', size: smallBytes.length } });
    const smallUrl = (JSON.parse(small.body) as { upload: { url: string } }).upload.url;
    const smallPut = await fetch(smallUrl, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: smallBytes });
    await smallPut.arrayBuffer();
    const smallId = (JSON.parse(small.body) as { file: { id: string } }).file.id;
    // Random bytes are not safetensors: complete must find the bytes (and refuse them as invalid_file), not miss them.
    const smallComplete = await json(`/v1/files/${smallId}/complete`, { method: 'POST' });

    // No space at all: a filler file takes every page that is left.
    const filler = join(root, 'filler');
    await fillUp(filler);
    const createWhenFull = await json('/v1/files', { method: 'POST', body: { name: 'tiny.bin', purpose: 'model', size: 10 } });
    await rm(filler);
    const createAfterFreeing = (await json('/v1/files', { method: 'POST', body: { name: 'tiny.bin', purpose: 'model', size: 10 } })).status;

    return {
      fsBytes,
      key,
      v1: { size: v1.size, sha256: sha(v1Bytes) },
      overwrite,
      afterOverwrite,
      freshKey,
      fresh,
      afterFresh,
      afterwards,
      http: {
        declared,
        put,
        file: fileNow,
        complete,
        contentHead,
        staging,
        smallUpload: { put: smallPut.status, complete: smallComplete.status, completeBody: smallComplete.body },
        createWhenFull,
        createAfterFreeing,
      },
    };
  } finally {
    await server.close();
    await queue.close();
  }
}

// Run as a child process (inside `unshare -rm`, after mounting the tmpfs): print the report.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = process.argv[2];
  if (!root) throw new Error('usage: folder-store-disk-full.fixture.ts <root on a small filesystem>');
  runDiskFullScenario(root).then(
    (report) => {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
