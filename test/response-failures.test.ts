/**
 * A failure while a response is being built (issue #18) ends as the JSON
 * error envelope with a correct status and no stack, on every kind of route
 * (REST, tRPC, SSE, bytes), and whatever was opened for the response is
 * closed at once: the process's open file descriptors (/proc/self/fd) return
 * to their count before the requests, without a garbage collection.
 *
 * Failures are forced two ways: the object store behind the real routes
 * throws or hands back a record that fails the output schema; and routes
 * mounted on a real app (createApp) build responses Node would refuse, as a
 * future bug in a route would, to prove the app-wide net (respond.ts).
 */
import { createReadStream, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import { streamSSE } from 'hono/streaming';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import { API_ERROR_STATUS, type ApiErrorBody, type FileObject, type FusionJob } from '../api/contract/src/index.ts';
import { createApp } from '../api/src/http/app.ts';
import { streamObject } from '../api/src/http/respond.ts';
import type { RunningServer } from '../app/embedded.ts';
import { FolderStore } from '../api/src/storage/index.ts';
import { startOnStore } from './support/embedded.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-response-failures-'));
let fixtures: Fixtures;
let server: RunningServer;
let api: Rest;
let extra: { url: string; close(): Promise<void> };

/** Keys whose reads fail, and how: set by each test, cleared after it. */
const sabotage: { keys: RegExp | null; how: 'throw' | 'corrupt' } = { keys: null, how: 'throw' };

function sabotaged(store: FolderStore): FolderStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (!['get', 'getBytes', 'head'].includes(String(prop))) return value.bind(target);
      return async (key: string, ...rest: unknown[]) => {
        if (sabotage.keys?.test(key)) {
          if (sabotage.how === 'throw') throw new Error(`forced failure reading ${key}`);
          if (prop === 'getBytes') return new TextEncoder().encode(JSON.stringify({ id: 'not-a-record', status: 'weird' }));
        }
        return (value as (...a: unknown[]) => unknown).call(target, key, ...rest);
      };
    },
  });
}

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  const store = sabotaged(new FolderStore({ root: join(dir, 'store'), fsync: false }));
  server = await startOnStore(store, 1, { requeueOnStart: false });
  api = new Rest(server.url, (await createApiKey(store, 'acme')).token);

  // The same app, plus routes that build responses Node would refuse.
  const app = createApp(server.services);
  const big = join(dir, 'big.bin');
  writeFileSync(big, new Uint8Array(256 * 1024));
  app.get('/test/unsendable-stream', () => new Response(Readable.toWeb(createReadStream(big)) as unknown as ReadableStream, { headers: { 'x-name': 'a\u0001b' } }));
  app.get('/test/unsendable-object', () => streamObject(async () => createReadStream(big), { 'content-disposition': 'attachment; filename="a\u0001b"' }));
  app.get('/test/unserialisable', (c) => c.json({ size: 1n } as unknown as object));
  app.get('/test/sse-setup-fails', async (c) => {
    await streamSSE(c, async (stream) => {
      await stream.writeSSE({ data: 'first' });
    });
    throw new Error('forced failure after the stream was made');
  });
  const listening = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  extra = {
    url: `http://127.0.0.1:${(listening.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => listening.close(() => resolve())),
  };
});

afterAll(async () => {
  await extra?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One request on its own connection (closed after it), so sockets never linger in a pool. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function expectEnvelope(res: { status: number; contentType: string; body: string }, code: ApiErrorBody['code']): void {
  expect(res.status, res.body).toBe(API_ERROR_STATUS[code]);
  expect(res.contentType).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as { error: ApiErrorBody };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(res.body).not.toMatch(/\bat .*\.(ts|js):\d+|stack|forced failure/);
}

const openFds = () => readdirSync('/proc/self/fd').length;

/** Waits (bounded) for the descriptor count to come back to `baseline`: sockets close a moment after their response ends. */
async function fdsBackTo(baseline: number): Promise<number> {
  for (let i = 0; i < 100 && openFds() > baseline; i++) await new Promise((r) => setTimeout(r, 20));
  return openFds();
}

describe('a failure while the response is built', () => {
  let file: FileObject;
  let job: FusionJob;

  beforeAll(async () => {
    file = await api.upload(fixtures.calibration, 'dataset');
    const a = await api.upload(fixtures.a, 'model');
    const b = await api.upload(fixtures.b, 'model');
    job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { models: [a.id, b.id], calibration: { file: file.id } } });
    await api.waitFor(job.id, (j) => j.status === 'succeeded' || j.status === 'failed');
  });

  const auth = () => api.headers();
  const cases: [string, () => string, 'throw' | 'corrupt', () => RegExp][] = [
    ['REST: the record read fails', () => `${server.url}/v1/files/${file.id}`, 'throw', () => new RegExp(`${file.id}`)],
    ['REST: the record fails the output schema (serialisation)', () => `${server.url}/v1/files/${file.id}`, 'corrupt', () => new RegExp(`${file.id}`)],
    ['tRPC: the record read fails', () => `${server.url}/trpc/files.get?input=${encodeURIComponent(JSON.stringify({ id: file.id }))}`, 'throw', () => new RegExp(`${file.id}`)],
    ['SSE: the job read fails before the stream starts', () => `${server.url}/v1/fusions/${job.id}/events/stream`, 'throw', () => new RegExp(`${job.id}`)],
    ['bytes: the object read fails after its head', () => `${server.url}/v1/files/${file.id}/content`, 'throw', () => /content/],
    ['bytes: an output read fails', () => `${server.url}/v1/fusions/${job.id}/outputs/report.json/content`, 'throw', () => /outputs\//],
  ];

  it.each(cases)('%s → the envelope, descriptors back to their count', async (_label, url, how, keys) => {
    await get(url(), auth()); // warm: modules, first-use allocations
    const baseline = await fdsBackTo(openFds());
    sabotage.keys = keys();
    sabotage.how = how;
    try {
      for (let i = 0; i < 4; i++) {
        const res = await get(url(), auth());
        if (url().includes('/trpc/')) {
          expect(res.status).toBe(500);
          expect(JSON.parse(res.body)).toMatchObject({ error: { data: { error: { code: 'internal_error', message: 'Internal server error' } } } });
          expect(res.body).not.toMatch(/forced failure|stack/);
        } else {
          expectEnvelope(res, 'internal_error');
        }
      }
    } finally {
      sabotage.keys = null;
    }
    expect(await fdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
  });

  it.each([
    ['a streamed body with a header Node refuses', '/test/unsendable-stream'],
    ['a stored object with a header Node refuses (refused before it is opened)', '/test/unsendable-object'],
    ['a body that cannot be serialised', '/test/unserialisable'],
  ])('%s → the envelope, and the file behind it closed at once', async (_label, path) => {
    await get(`${extra.url}/healthz`);
    const baseline = await fdsBackTo(openFds());
    for (let i = 0; i < 10; i++) expectEnvelope(await get(`${extra.url}${path}`), 'internal_error');
    expect(await fdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
  });

  it('an SSE route that throws after making its stream still answers with what it built, and leaks nothing', async () => {
    const baseline = await fdsBackTo(openFds());
    for (let i = 0; i < 5; i++) expectEnvelope(await get(`${extra.url}/test/sse-setup-fails`), 'internal_error');
    expect(await fdsBackTo(baseline)).toBeLessThanOrEqual(baseline);
  });
});
