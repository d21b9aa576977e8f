/**
 * Schedules on the embedded service (folder store, in-process scheduler and
 * runner) over real HTTP: create-time validation of cron, time zone and
 * interval; ticks that fuse lineage models and publish each result as the
 * next output version; skip_unchanged; pause/resume; a deleted lineage
 * failing runs by name while the schedule stays listed; delete.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { FileObject, Lineage, Schedule, ScheduleRun } from '../api/contract/src/index.ts';
import type { RunningServer } from '../api/src/server.ts';
import { startEmbedded } from './support/embedded.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-schedules-'));
let fixtures: Fixtures;
let server: RunningServer;
let api: Rest;
let files: { a: FileObject; b: FileObject; cal: FileObject };

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  server = await startEmbedded(join(dir, 'store'));
  api = new Rest(server.url, (await createApiKey(server.services.store, 'acme')).token);
  files = { a: await api.upload(fixtures.a, 'model'), b: await api.upload(fixtures.b, 'model'), cal: await api.upload(fixtures.calibration, 'dataset') };
  await api.json('/v1/lineages/deep/versions', { method: 'POST', json: { file: files.a.id } });
  await api.json('/v1/lineages/shallow/versions', { method: 'POST', json: { file: files.b.id } });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const template = (models: { name: string; version: number | 'latest' }[] = [{ name: 'deep', version: 'latest' }, { name: 'shallow', version: 'latest' }]) => ({ models, calibration: { file: files.cal.id }, seed: 3 });

async function runs(id: string): Promise<ScheduleRun[]> {
  return (await api.json<{ data: ScheduleRun[] }>(`/v1/schedules/${id}/runs?limit=100`)).data;
}

/** Polls the runs until `done` holds (generous: the machine may be busy). */
async function runsUntil(id: string, done: (r: ScheduleRun[]) => boolean, timeoutMs = 60_000): Promise<ScheduleRun[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await runs(id);
    if (done(r)) return r;
    if (Date.now() > deadline) throw new Error(`runs still ${JSON.stringify(r.map((x) => x.outcome))} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

const settled = (r: ScheduleRun) => r.outcome === 'skipped' || r.outcome === 'failed' || r.outcome === 'canceled' || (r.outcome === 'succeeded' && r.output !== null);

describe('schedules (embedded)', () => {
  it('refuses a bad cron expression, time zone or interval at create time, naming the field', async () => {
    const create = (body: object) => api.fetch('/v1/schedules', { method: 'POST', json: { template: template(), output: { lineage: 'fused' }, ...body } });
    const field = async (body: object) => {
      const res = await create(body);
      expect(res.status).toBe(400);
      return ((await res.json()) as { error: { details: { field?: string; issues?: { path: string }[] } } }).error.details;
    };
    expect((await field({ cron: 'not a cron' })).field).toBe('cron');
    expect((await field({ cron: '61 * * * *' })).field).toBe('cron');
    expect((await field({ cron: '* * * * * *' })).field).toBe('cron');
    expect((await field({ cron: '0 3 * * *', timezone: 'Mars/Olympus' })).field).toBe('timezone');
    expect((await field({ cron: '0 3 * * *', every: 60 })).field).toBe('every');
    expect((await field({})).field).toBe('cron');
    expect((await field({ every: 1 })).issues?.[0].path).toBe('every');
    // A template that would fail every run (finetune and distill together) is refused now, naming the template's field.
    const both = await create({
      every: 60,
      template: { ...template(), finetune: { epochs: 1, train: { file: files.cal.id } }, distill: { epochs: 1, train: { file: files.cal.id }, alpha: 0.5, temperature: 2 } },
    });
    expect(both.status).toBe(400);
    const bothError = ((await both.json()) as { error: { message: string; details: { field?: string } } }).error;
    expect(bothError.details.field).toBe('template.distill');
    expect(bothError.message).toContain('template.finetune and template.distill exclude each other');
    const missing = await create({ every: 60, template: template([{ name: 'deep', version: 1 }, { name: 'nope', version: 'latest' }]) });
    expect(missing.status).toBe(404);
    expect((await api.json<{ data: Schedule[] }>('/v1/schedules')).data).toEqual([]);
    const ok = await api.json<Schedule>('/v1/schedules', { method: 'POST', json: { cron: '0 3 * * *', timezone: 'Europe/Berlin', template: template(), output: { lineage: 'nightly' } } });
    expect(ok).toMatchObject({ status: 'active', cron: '0 3 * * *', timezone: 'Europe/Berlin', every: null });
    await api.json(`/v1/schedules/${ok.id}`, { method: 'DELETE' });
    expect((await api.fetch(`/v1/schedules/${ok.id}`)).status).toBe(404);
  });

  it('ticks fuse the lineages’ latest versions and publish each result once; skip_unchanged skips until an input changes', async () => {
    const s = await api.json<Schedule>('/v1/schedules', {
      method: 'POST',
      json: { every: 2, template: template(), output: { lineage: 'fused' }, skip_unchanged: true },
    });
    let r = await runsUntil(s.id, (x) => x.filter(settled).length >= 3);
    const done = r.filter(settled).reverse();
    expect(done[0]).toMatchObject({ outcome: 'succeeded', output: { lineage: 'fused', version: 1 } });
    expect(done.slice(1).every((x) => x.outcome === 'skipped')).toBe(true);
    expect(done[0].models?.map((m) => m.lineage)).toEqual([{ name: 'deep', version: 1 }, { name: 'shallow', version: 1 }]);

    await api.json('/v1/lineages/shallow/versions', { method: 'POST', json: { file: files.b.id } });
    r = await runsUntil(s.id, (x) => x.some((y) => y.outcome === 'succeeded' && y.output?.version === 2));
    const second = r.find((y) => y.output?.version === 2)!;
    expect(second.models?.[1].lineage).toEqual({ name: 'shallow', version: 2 });
    const fused = await api.json<Lineage>('/v1/lineages/fused');
    expect(fused.latest).toMatchObject({ version: 2, source: { type: 'schedule', schedule_id: s.id, job_id: second.job_id } });
    const jobIds = r.filter((x) => x.job_id).map((x) => x.job_id);
    expect(new Set(jobIds).size).toBe(jobIds.length);
    await api.json(`/v1/schedules/${s.id}`, { method: 'DELETE' });
  });

  it('pause stops the ticks, resume restarts them; a deleted lineage fails runs by name and the schedule stays', async () => {
    const s = await api.json<Schedule>('/v1/schedules', { method: 'POST', json: { every: 2, template: template(), output: { lineage: 'paused-out' } } });
    await runsUntil(s.id, (x) => x.length >= 1);
    expect((await api.json<Schedule>(`/v1/schedules/${s.id}/pause`, { method: 'POST' })).status).toBe('paused');
    const before = (await runs(s.id)).length;
    await new Promise((res) => setTimeout(res, 5_000));
    expect((await runs(s.id)).length).toBe(before);
    expect((await api.json<Schedule>(`/v1/schedules/${s.id}/resume`, { method: 'POST' })).status).toBe('active');
    await runsUntil(s.id, (x) => x.length > before);

    await api.json('/v1/lineages/shallow', { method: 'DELETE' });
    const r = await runsUntil(s.id, (x) => x.some((y) => y.outcome === 'failed' && y.job_id === null));
    const failed = r.find((y) => y.outcome === 'failed' && y.job_id === null)!;
    expect(failed.error?.message).toMatch(/No such lineage: shallow/);
    expect((await api.json<Schedule>(`/v1/schedules/${s.id}`)).status).toBe('active');
    expect((await api.json<{ data: Schedule[] }>('/v1/schedules')).data.map((x) => x.id)).toContain(s.id);
    await api.json(`/v1/schedules/${s.id}`, { method: 'DELETE' });
    expect((await api.fetch(`/v1/schedules/${s.id}/runs`)).status).toBe(404);
  });
});
