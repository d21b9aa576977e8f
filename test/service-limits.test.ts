/**
 * Per-key rate limits, request header limits and tenant isolation on every
 * route, against a real embedded server on loopback.
 *
 * The isolation matrix walks the OpenAPI document, so a route added later is
 * checked without editing this test: every operation with a path parameter,
 * called by another tenant with acme's ids and names, answers 404 not_found
 * exactly as an unknown id would (service-errors.test.ts covers the rest of
 * the bad-input matrix).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { FileObject, FusionJob } from '../api/contract/src/index.ts';
import type { FusionQueueData } from '../api/contract/src/jobs/queue-data.ts';
import { InProcessQueue } from '../api/src/queue/index.ts';
import { type RunningServer, startEmbeddedServer as startServer } from '../app/embedded.ts';
import { FolderStore } from '../api/src/storage/index.ts';
import { createClient } from '../sdk/src/index.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

const PER_SECOND = 4;
const BURST = 8;
const dir = mkdtempSync(join(tmpdir(), 'clafusion-limits-'));
let fixtures: Fixtures;
let server: RunningServer;
let queue: InProcessQueue<FusionQueueData>;
let store: FolderStore;
let acme: Rest;
let other: Rest;
let a: FileObject, b: FileObject, cal: FileObject;
let job: FusionJob;

/** A fresh key: each test drains its own bucket. */
async function freshKey(tenant = 'acme'): Promise<string> {
  return (await createApiKey(store, tenant)).token;
}

/**
 * The limited server drains buckets on every call, so fixture setup retries
 * on 429 the way the SDK does (Retry-After).
 */
async function patiently(call: () => Promise<Response>): Promise<Response> {
  for (;;) {
    const res = await call();
    if (res.status !== 429) return res;
    await res.body?.cancel();
    await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after')) * 1000));
  }
}

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  store = new FolderStore({ root: join(dir, 'store'), fsync: false });
  queue = new InProcessQueue<FusionQueueData>({ backoff: { type: 'fixed', delayMs: 10 } });
  server = await startServer({
    store,
    queue,
    host: '127.0.0.1',
    port: 0,
    inProcessRunners: 1,
    requeueOnStart: true,
    maxUploadBytes: 1024 * 1024,
    presignSeconds: 600,
    eventPollMs: 50,
    publicUrl: null,
    rateLimit: { perSecond: PER_SECOND, burst: BURST },
  });
  // Setup makes more calls than one burst; give each fixture step a key of its own.
  a = await new Rest(server.url, await freshKey()).upload(fixtures.a, 'model');
  b = await new Rest(server.url, await freshKey()).upload(fixtures.b, 'model');
  cal = await new Rest(server.url, await freshKey()).upload(fixtures.calibration, 'dataset');
  acme = new Rest(server.url, await freshKey());
  other = new Rest(server.url, await freshKey('other-co'));
  const created = await patiently(() => acme.fetch('/v1/fusions', { method: 'POST', json: { models: [a.id, b.id], calibration: { file: cal.id } } }));
  job = (await created.json()) as FusionJob;
  for (;;) {
    const res = await patiently(() => acme.fetch(`/v1/fusions/${job.id}`));
    job = (await res.json()) as FusionJob;
    if (job.status === 'succeeded') break;
    expect(['queued', 'running']).toContain(job.status);
    await new Promise((r) => setTimeout(r, 300));
  }
}, 600_000);

afterAll(async () => {
  await server?.close();
  await queue?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rate limits per API key', () => {
  it('grants the burst, then answers 429 rate_limited with Retry-After, per key and on tRPC too', async () => {
    const key = await freshKey();
    const api = new Rest(server.url, key);
    // All at once: on a loaded machine sequential calls can be slower than
    // the refill (PER_SECOND), and the bucket would never empty. Three bursts'
    // worth need 4 s of refill to all pass, far more than they take to arrive.
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 3 * BURST }, () => api.fetch(`/v1/fusions/${job.id}`)));
    const statuses = responses.map((r) => r.status);
    const limited = responses.find((r) => r.status === 429);
    for (const r of responses) if (r !== limited) await r.body?.cancel();
    expect(statuses.every((s) => s === 200 || s === 429), `statuses: ${statuses.join(',')}`).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(BURST);
    expect(limited, `statuses: ${statuses.join(',')}`).toBeDefined();
    const retryAfter = Number(limited!.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    const body = (await limited!.json()) as { error: { code: string; details: Record<string, unknown> } };
    expect(body.error).toMatchObject({ code: 'rate_limited', details: { limit_per_second: PER_SECOND, burst: BURST, retry_after_seconds: retryAfter } });

    // The same key on tRPC shares the bucket: a burst's worth of tRPC calls
    // right after gets no more 200s than the tokens refilled since the REST
    // burst began (PER_SECOND per second, counted until the last answer came
    // back). A bucket of its own would grant all BURST. On a machine stalled
    // long enough to refill a whole burst the bound no longer tells the two
    // apart, but it still holds: the test never depends on being fast.
    const trpcResponses = await Promise.all(
      Array.from({ length: BURST }, () => fetch(`${server.url}/trpc/fusions.get?input=${encodeURIComponent(JSON.stringify({ id: job.id }))}`, { headers: api.headers() })),
    );
    const refilled = Math.floor((PER_SECOND * (performance.now() - started)) / 1000);
    const trpcStatuses = trpcResponses.map((r) => r.status);
    for (const r of trpcResponses) await r.body?.cancel();
    expect(trpcStatuses.every((s) => s === 200 || s === 429), `tRPC statuses: ${trpcStatuses.join(',')}`).toBe(true);
    expect(trpcStatuses.filter((s) => s === 200).length, `tRPC statuses ${trpcStatuses.join(',')}, ${refilled} tokens refilled`).toBeLessThanOrEqual(Math.min(refilled + 1, BURST));
    const sibling = await new Rest(server.url, await freshKey()).fetch(`/v1/fusions/${job.id}`);
    expect(sibling.status).toBe(200);
    await sibling.body?.cancel();

    // Unauthenticated requests are refused by auth, not counted against anyone.
    const anonymous = await fetch(`${server.url}/v1/fusions`);
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
  });

  it('the SDK rides out 429s: three bursts of calls all succeed', async () => {
    const client = createClient({ baseUrl: server.url, apiKey: await freshKey(), maxRetries: 20, retryDelayMs: 50 });
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 3 * BURST }, () => client.fusions.retrieve(job.id)));
    expect(results.every((j) => j.id === job.id && j.status === 'succeeded')).toBe(true);
    // 2 × BURST calls over the burst at PER_SECOND/s need about 4 s of refill; retries honoured Retry-After.
    expect(performance.now() - started).toBeGreaterThan(((2 * BURST) / PER_SECOND) * 1000 * 0.7);
  }, 600_000);
});

describe('request header limits', () => {
  it('refuses headers above Node’s 16 KiB limit with 431 before any handler runs', async () => {
    const { port } = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/v1/fusions', headers: { authorization: `Bearer ${acme.key}`, 'x-padding': 'x'.repeat(32 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(431);
  });
});

describe('tenant isolation on every route', () => {
  it('every path-parameter route answers another tenant with 404 not_found, as for an unknown id', async () => {
    const doc = (await (await patiently(() => acme.fetch('/v1/openapi.json'))).json()) as { paths: Record<string, Record<string, unknown>> };
    const lineage = Object.keys(doc.paths).some((p) => p.startsWith('/lineages/'));
    if (lineage) {
      const registered = await patiently(() => acme.fetch('/v1/lineages/acme-line/versions', { method: 'POST', json: { file: a.id } }));
      expect(registered.status, await registered.clone().text()).toBeLessThan(300);
    }
    // A schedule of acme's, when the API has schedules (an hourly one: it never ticks during the test).
    let scheduleId = '';
    if (Object.keys(doc.paths).some((p) => p.startsWith('/schedules/'))) {
      const template = { models: [a.id, b.id], calibration: { file: cal.id } };
      const created = await patiently(() => acme.fetch('/v1/schedules', { method: 'POST', json: { every: 3600, template, output: { lineage: 'acme-out' } } }));
      const text = await created.text();
      expect(created.status, text).toBeLessThan(300);
      scheduleId = (JSON.parse(text) as { id: string }).id;
    }
    const idFor = (template: string) => (template.startsWith('/files') ? a.id : template.startsWith('/schedules') ? scheduleId : job.id);
    const checked: string[] = [];
    for (const [template, operations] of Object.entries(doc.paths)) {
      if (!template.includes('{')) continue;
      const path = template
        .replace('{id}', idFor(template))
        .replace('{run}', '1')
        .replace('{name}', template.startsWith('/lineages') ? 'acme-line' : 'fused.safetensors')
        .replace('{version}', '1');
      for (const method of Object.keys(operations).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))) {
        // Each request gets a fresh key of the other tenant, so the limit never masks the answer.
        const intruder = new Rest(server.url, await freshKey('other-co'));
        const init: RequestInit & { json?: unknown } = { method: method.toUpperCase() };
        if (method === 'post' && template.startsWith('/lineages')) init.json = { file: a.id };
        else if (method === 'put') init.body = 'x';
        else if (method === 'patch') init.json = { every: 60 };
        const res = await intruder.fetch(`/v1${path}`, init);
        const text = await res.text();
        expect(res.status, `${method.toUpperCase()} ${template}: ${text}`).toBe(404);
        expect(JSON.parse(text).error.code).toBe('not_found');
        checked.push(`${method} ${template}`);
      }
    }
    expect(checked).toEqual(expect.arrayContaining(['get /files/{id}', 'post /files/{id}/complete', 'get /fusions/{id}/events', 'get /fusions/{id}/outputs/{name}']));

    // Routes without ids: lists show only the caller's own things, creates refuse foreign files.
    const list = (await (await other.fetch('/v1/fusions')).json()) as { data: FusionJob[] };
    expect(list.data.map((j) => j.id)).not.toContain(job.id);
    const foreignCreate = await other.fetch('/v1/fusions', { method: 'POST', json: { models: [a.id, b.id], calibration: { file: cal.id } } });
    expect(foreignCreate.status).toBe(404);
    await foreignCreate.body?.cancel();
    // And acme still sees everything it owns (the intruders changed nothing).
    expect(((await (await patiently(() => acme.fetch(`/v1/fusions/${job.id}`))).json()) as FusionJob).status).toBe('succeeded');
  }, 600_000);
});
