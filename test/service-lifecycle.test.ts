/**
 * Lifecycle on the embedded service (real HTTP, folder store, in-process
 * queue): listing files and jobs with filters and cursors, deleting files
 * (409 while an unfinished job or a lineage version uses them) and finished
 * jobs (409 while queued/running), and the retention sweeps. One server has
 * no runner, so its jobs stay queued as long as a test needs; the other runs
 * jobs to the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { FileObject, FusionJob, ListPage, ScheduleRun, ScheduleWithRuns } from '../api/contract/src/index.ts';
import { lifecycleKeys } from '../api/contract/src/lifecycle-keys.ts';
import { layout } from '../api/contract/src/store-layout.ts';
import { createClient } from '../sdk/src/index.ts';
import { ConflictError, NotFoundError } from '../sdk/src/index.ts';
import { FolderStore } from '../api/src/storage/index.ts';
import { startEmbedded, startOnStore, storeFingerprint } from './support/embedded.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { Rest, expectApiError } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-lifecycle-'));
let fixtures: Fixtures;
let idle: Awaited<ReturnType<typeof startEmbedded>>;
let busy: Awaited<ReturnType<typeof startEmbedded>>;
let api: Rest;
let runApi: Rest;

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  idle = await startEmbedded(join(dir, 'idle'), 0);
  busy = await startEmbedded(join(dir, 'busy'), 1);
  api = new Rest(idle.url, (await createApiKey(idle.services.store, 'acme')).token);
  runApi = new Rest(busy.url, (await createApiKey(busy.services.store, 'acme')).token);
});

afterAll(async () => {
  await idle?.close();
  await busy?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function inputs(rest: Rest) {
  const [a, b, cal, ev] = [
    await rest.upload(fixtures.a, 'model'),
    await rest.upload(fixtures.b, 'model'),
    await rest.upload(fixtures.calibration, 'dataset'),
    await rest.upload(fixtures.evaluation, 'dataset'),
  ];
  return { a, b, cal, ev, spec: { models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: ev.id }, seed: 7 } };
}

const pendingFile = (rest: Rest, name = 'never-finished.safetensors') =>
  rest.json<{ file: FileObject }>('/v1/files', { method: 'POST', json: { name, purpose: 'model', size: 64 } }).then((r) => r.file);

describe('files: list and delete', () => {
  it('lists newest first, filters by purpose and status, and pages with after', async () => {
    const { a, b, cal, ev } = await inputs(api);
    const pending = await pendingFile(api);
    const all = await api.json<ListPage<FileObject>>('/v1/files?limit=100');
    const ids = all.data.map((f) => f.id);
    // Newest first: the pending one was made last.
    expect(ids.slice(0, 5)).toEqual([pending.id, ev.id, cal.id, b.id, a.id]);
    const datasets = await api.json<ListPage<FileObject>>('/v1/files?purpose=dataset&limit=100');
    expect(datasets.data.every((f) => f.purpose === 'dataset')).toBe(true);
    expect(datasets.data.map((f) => f.id)).toEqual(expect.arrayContaining([cal.id, ev.id]));
    expect(datasets.data.map((f) => f.id)).not.toContain(a.id);
    const pendings = await api.json<ListPage<FileObject>>('/v1/files?status=pending');
    expect(pendings.data.map((f) => f.id)).toEqual([pending.id]);
    const readyModels = await api.json<ListPage<FileObject>>('/v1/files?status=ready&purpose=model');
    expect(readyModels.data.map((f) => f.id)).toEqual([b.id, a.id]);

    // Pages of one, through the SDK's iterator, see every file once, in the same order.
    const client = createClient({ baseUrl: api.base, apiKey: api.key });
    const paged: string[] = [];
    for await (const f of client.files.list({ limit: 1 })) paged.push(f.id);
    expect(paged).toEqual(ids);
    const first = await client.files.list({ limit: 2, purpose: 'model', status: 'ready' });
    expect(first.has_more).toBe(false);
    expect(first.data.map((f) => f.id)).toEqual([b.id, a.id]);

    // Another tenant sees none of them.
    const other = new Rest(api.base, (await createApiKey(idle.services.store, 'globex')).token);
    expect((await other.json<ListPage<FileObject>>('/v1/files')).data).toEqual([]);
    await expectApiError(await other.fetch(`/v1/files/${a.id}`, { method: 'DELETE' }), 'not_found');
  });

  it('refuses to delete a file a queued job uses (409 naming the job), deletes it once the job is gone', async () => {
    const { a, b, spec } = await inputs(api);
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
    expect(job.status).toBe('queued');

    const inUse = await expectApiError(await api.fetch(`/v1/files/${a.id}`, { method: 'DELETE' }), 'file_in_use');
    expect(inUse.message).toContain(job.id);
    expect(inUse.details).toMatchObject({ id: a.id, jobs: [job.id], lineage_versions: [] });
    expect((await api.json<FileObject>(`/v1/files/${a.id}`)).status).toBe('ready');

    const notFinished = await expectApiError(await api.fetch(`/v1/fusions/${job.id}`, { method: 'DELETE' }), 'job_not_finished');
    expect(notFinished.details).toMatchObject({ id: job.id, status: 'queued' });

    await api.json(`/v1/fusions/${job.id}/cancel`, { method: 'POST' });
    // A canceled job no longer holds its files (its record keeps their names and sha256).
    expect(await api.json(`/v1/files/${a.id}`, { method: 'DELETE' })).toEqual({ id: a.id, object: 'file', deleted: true });
    await expectApiError(await api.fetch(`/v1/files/${a.id}`), 'not_found');
    await expectApiError(await api.fetch(`/v1/files/${a.id}/content`), 'not_found');
    await expectApiError(await api.fetch(`/v1/files/${a.id}`, { method: 'DELETE' }), 'not_found');
    const left = await storeFingerprint(idle.store, lifecycleKeys.fileFolder('acme', a.id));
    expect([...left.keys()]).toEqual([]);

    // A job naming the deleted file is refused at create.
    await expectApiError(await api.fetch('/v1/fusions', { method: 'POST', json: spec }), 'not_found');
    expect((await api.json<FileObject>(`/v1/files/${b.id}`)).status).toBe('ready');
  });

  it('refuses to delete a file a lineage version is, until the lineage is deleted', async () => {
    const model = await api.upload(fixtures.b, 'model');
    await api.json('/v1/lineages/keep-me/versions', { method: 'POST', json: { file: model.id } });
    const inUse = await expectApiError(await api.fetch(`/v1/files/${model.id}`, { method: 'DELETE' }), 'file_in_use');
    expect(inUse.details).toMatchObject({ jobs: [], lineage_versions: ['keep-me@1'] });
    await api.json('/v1/lineages/keep-me', { method: 'DELETE' });
    const client = createClient({ baseUrl: api.base, apiKey: api.key });
    expect(await client.files.delete(model.id)).toEqual({ id: model.id, object: 'file', deleted: true });
    await expect(client.files.retrieve(model.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('fusions: status filter and delete', () => {
  it('filters the job list by status', async () => {
    const { spec } = await inputs(api);
    const queued = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
    const canceled = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
    await api.json(`/v1/fusions/${canceled.id}/cancel`, { method: 'POST' });
    const q = await api.json<ListPage<FusionJob>>('/v1/fusions?status=queued&limit=100');
    expect(q.data.every((j) => j.status === 'queued')).toBe(true);
    expect(q.data.map((j) => j.id)).toContain(queued.id);
    expect(q.data.map((j) => j.id)).not.toContain(canceled.id);
    const c = await api.json<ListPage<FusionJob>>('/v1/fusions?status=canceled&limit=100');
    expect(c.data.every((j) => j.status === 'canceled')).toBe(true);
    expect(c.data.map((j) => j.id)).toContain(canceled.id);
    // Pages of one through the SDK: the same jobs, in order.
    const client = createClient({ baseUrl: api.base, apiKey: api.key });
    const paged: string[] = [];
    for await (const j of client.fusions.list({ status: 'canceled', limit: 1 })) paged.push(j.id);
    expect(paged).toEqual(c.data.map((j) => j.id));
    await expectApiError(await api.fetch('/v1/fusions?status=done'), 'invalid_request');
    await api.json(`/v1/fusions/${queued.id}/cancel`, { method: 'POST' });
  });

  it('deletes a succeeded job with its events and outputs; its input files can then go', async () => {
    const { a, spec } = await inputs(runApi);
    const job = await runApi.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
    const done = await runApi.waitFor(job.id, (j) => j.status === 'succeeded');
    // The runner that ran it is listed with the backend the job's metrics name.
    const version = await createClient({ baseUrl: runApi.base, apiKey: runApi.key }).version();
    expect(version).toMatchObject({ object: 'version', api_version: '0.1.0', engine_version: '0.1.0' });
    expect(version.runners.map((r) => r.backend)).toEqual([done.metrics!.backend]);
    const none = await api.json<{ engine_version: string | null; runners: unknown[] }>('/v1/version');
    expect(none).toMatchObject({ engine_version: null, runners: [] });
    await expectApiError(await fetch(`${api.base}/v1/version`), 'unauthorized');
    expect(done.outputs.length).toBeGreaterThan(0);
    const folder = lifecycleKeys.jobFolder('acme', job.id);
    expect((await storeFingerprint(busy.store, folder)).size).toBeGreaterThan(done.outputs.length);

    const client = createClient({ baseUrl: runApi.base, apiKey: runApi.key });
    expect(await client.fusions.delete(job.id)).toEqual({ id: job.id, object: 'fusion', deleted: true });
    expect([...(await storeFingerprint(busy.store, folder)).keys()]).toEqual([]);
    expect(await busy.store.head(layout.jobIndexEntry('acme', job.id))).toBeNull();
    await expectApiError(await runApi.fetch(`/v1/fusions/${job.id}`), 'not_found');
    await expectApiError(await runApi.fetch(`/v1/fusions/${job.id}/events`), 'not_found');
    await expectApiError(await runApi.fetch(`/v1/fusions/${job.id}/outputs/report.json/content`), 'not_found');
    const list = await runApi.json<ListPage<FusionJob>>('/v1/fusions?limit=100');
    expect(list.data.map((j) => j.id)).not.toContain(job.id);
    await expect(client.fusions.delete(job.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await client.files.delete(a.id)).deleted).toBe(true);
  });

  it('lists the runner as soon as its job is seen to succeed, however slow the runner record is to store', async () => {
    // A store whose writes under system/runners/ take a while: the runner's
    // record must still be there by the time the job's success is visible.
    class SlowRunnerRecords extends FolderStore {
      override async put(key: string, body: Uint8Array | Readable, options?: Parameters<FolderStore['put']>[2]) {
        if (key.startsWith(lifecycleKeys.runners())) await new Promise((r) => setTimeout(r, 500));
        return super.put(key, body, options);
      }
    }
    const slow = await startOnStore(new SlowRunnerRecords({ root: join(dir, 'slow-runner-records'), fsync: false }), 1);
    try {
      const rest = new Rest(slow.url, (await createApiKey(slow.store, 'acme')).token);
      const { spec } = await inputs(rest);
      const job = await rest.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
      const done = await rest.waitFor(job.id, (j) => j.status === 'succeeded');
      const version = await rest.json<{ engine_version: string | null; runners: { backend: string }[] }>('/v1/version');
      expect(version.engine_version).toBe('0.1.0');
      expect(version.runners.map((r) => r.backend)).toEqual([done.metrics!.backend]);
    } finally {
      await slow.close();
    }
  });

  it('the SDK surfaces a 409 for a queued job as ConflictError', async () => {
    const { spec } = await inputs(api);
    const client = createClient({ baseUrl: api.base, apiKey: api.key });
    const job = await client.fusions.create(spec);
    const err = await client.fusions.delete(job.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).code).toBe('job_not_finished');
    await client.fusions.cancel(job.id);
  });
});

describe('retention', () => {
  it('removes pending uploads older than the TTL and leaves ready files and younger uploads', async () => {
    const old = await pendingFile(api, 'old.safetensors');
    // Bytes sent but never completed: they go too.
    const put = await api.fetch(`/v1/files/${old.id}/content`, { method: 'PUT', body: new Uint8Array(64), headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(200);
    const ready = await api.upload(fixtures.calibration, 'dataset');
    const empty = await pendingFile(api, 'no-bytes.safetensors');
    const lifecycle = idle.services.fileLifecycle;
    // A sweep a minute from now with a 30 s TTL: every upload still pending has expired.
    const removed = await lifecycle.sweepPending(30_000, new Date(Date.now() + 60_000));
    expect(removed).toBeGreaterThanOrEqual(2);
    await expectApiError(await api.fetch(`/v1/files/${old.id}`), 'not_found');
    await expectApiError(await api.fetch(`/v1/files/${empty.id}`), 'not_found');
    expect((await api.json<FileObject>(`/v1/files/${ready.id}`)).status).toBe('ready');
    expect([...(await storeFingerprint(idle.store, lifecycleKeys.fileFolder('acme', old.id))).keys()]).toEqual([]);
    expect((await api.json<ListPage<FileObject>>('/v1/files?status=pending')).data).toEqual([]);

    // A TTL the upload has not reached leaves it.
    const fresh = await pendingFile(api, 'fresh.safetensors');
    expect(await lifecycle.sweepPending(3_600_000)).toBe(0);
    expect((await api.json<FileObject>(`/v1/files/${fresh.id}`)).status).toBe('pending');
    // Completing an upload takes it off the sweeper's list.
    expect(await idle.store.head(lifecycleKeys.pendingFile('acme', ready.id))).toBeNull();
  });

  it('removes finished jobs past the retention, never unfinished ones', async () => {
    const { spec } = await inputs(api);
    const finished = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
    await api.json(`/v1/fusions/${finished.id}/cancel`, { method: 'POST' });
    const queued = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
    const jobs = idle.services.jobLifecycle;
    // Not yet old enough.
    expect(await jobs.sweepFinished(3_600_000)).toBe(0);
    const removed = await jobs.sweepFinished(1_000, new Date(Date.now() + 10_000));
    expect(removed).toBeGreaterThanOrEqual(1);
    await expectApiError(await api.fetch(`/v1/fusions/${finished.id}`), 'not_found');
    expect((await api.json<FusionJob>(`/v1/fusions/${queued.id}`)).status).toBe('queued');
    await api.json(`/v1/fusions/${queued.id}/cancel`, { method: 'POST' });
  });
});

describe('schedules: next_run_at and last_run', () => {
  it('says when an active schedule fires next and what its newest run was; a paused one has no next run', async () => {
    const { spec } = await inputs(api);
    const created = await api.json<ScheduleWithRuns>('/v1/schedules', { method: 'POST', json: { every: 2, template: spec, output: { lineage: 'nightly' } } });
    expect(created.last_run).toBeNull();
    // Ticks are aligned to multiples of `every`.
    expect(Date.parse(created.next_run_at!) % 2000).toBe(0);
    expect(Date.parse(created.next_run_at!)).toBeGreaterThan(Date.parse(created.created_at));
    let runs: ListPage<ScheduleRun>;
    const deadline = Date.now() + 20_000;
    do {
      await new Promise((r) => setTimeout(r, 200));
      runs = await api.json<ListPage<ScheduleRun>>(`/v1/schedules/${created.id}/runs`);
      if (Date.now() > deadline) throw new Error('no run');
    } while (runs.data.length === 0);
    const paused = await api.json<ScheduleWithRuns>(`/v1/schedules/${created.id}/pause`, { method: 'POST' });
    expect(paused.next_run_at).toBeNull();
    const newest = (await api.json<ListPage<ScheduleRun>>(`/v1/schedules/${created.id}/runs`)).data[0];
    const got = await api.json<ScheduleWithRuns>(`/v1/schedules/${created.id}`);
    expect(got.last_run?.id).toBe(newest.id);
    expect(got.next_run_at).toBeNull();
    const listed = await api.json<ListPage<ScheduleWithRuns>>('/v1/schedules');
    expect(listed.data.find((x) => x.id === created.id)?.last_run?.id).toBe(newest.id);
    const resumed = await api.json<ScheduleWithRuns>(`/v1/schedules/${created.id}/resume`, { method: 'POST' });
    expect(Date.parse(resumed.next_run_at!)).toBeGreaterThan(Date.parse(newest.tick_at));
    await api.json(`/v1/schedules/${created.id}`, { method: 'DELETE' });
    for await (const j of createClient({ baseUrl: api.base, apiKey: api.key }).fusions.list({ status: 'queued' })) await api.json(`/v1/fusions/${j.id}/cancel`, { method: 'POST' });
  });
});
