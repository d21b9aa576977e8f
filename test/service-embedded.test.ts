/**
 * The embedded default, in this process for speed: folder store, in-process
 * queue and in-process runner behind the real HTTP server on 127.0.0.1. The
 * flows a curl user follows, checked end to end, down to fused bytes
 * identical to the CLI's.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FusionJob } from '../api/src/contract/index.ts';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { FusionQueueData } from '../api/src/jobs/queue-data.ts';
import { InProcessQueue } from '../api/src/queue/index.ts';
import { type RunningServer, startServer } from '../api/src/server.ts';
import { FolderStore } from '../api/src/storage/index.ts';
import { type Fixtures, fuseWithCli, writeFixtures } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-embedded-'));
let fixtures: Fixtures;
let server: RunningServer;
let store: FolderStore;
let api: Rest;
let cliFused: Uint8Array;

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  store = new FolderStore({ root: join(dir, 'store'), fsync: false });
  const queue = new InProcessQueue<FusionQueueData>({ backoff: { type: 'fixed', delayMs: 10 } });
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
  });
  api = new Rest(server.url, (await createApiKey(store, 'acme')).token);
  cliFused = readFileSync(await fuseWithCli(fixtures, ['--seed', '7'], 'cli-fused.safetensors'));
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded service: folder store + in-process queue and runner', () => {
  it('uploads, fuses, streams events and serves the same bytes as the CLI', async () => {
    const a = await api.upload(fixtures.a, 'model');
    const b = await api.upload(fixtures.b, 'model');
    const cal = await api.upload(fixtures.calibration, 'dataset');
    const ev = await api.upload(fixtures.evaluation, 'dataset');
    expect(a).toMatchObject({ status: 'ready', model: { arch: { family: 'mlp', hidden: [12, 10, 8] }, arch_source: 'metadata' } });
    expect(cal.dataset).toEqual({ samples: 40, sample_shape: [16], x_dtype: 'F32', labels: false });
    expect(ev.dataset?.labels).toBe(true);

    const spec = { models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: ev.id }, seed: 7 };
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec, headers: { 'idempotency-key': 'first' } });
    expect(job.status).toMatch(/queued|running/);
    const events = await api.streamEvents(job.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0].type).toBe('queued');
    expect(events.at(-1)!.type).toBe('succeeded');
    expect(events.filter((e) => e.type === 'progress').length).toBeGreaterThan(3);

    const done = await api.json<FusionJob>(`/v1/fusions/${job.id}`);
    expect(done).toMatchObject({ status: 'succeeded', progress: 1, attempts: 1, error: null });
    expect(done.metrics?.accuracy?.models).toHaveLength(2);
    const fused = await api.download(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`);
    expect(Buffer.from(fused).equals(Buffer.from(cliFused))).toBe(true);
    const report = JSON.parse(Buffer.from(await api.download(`/v1/fusions/${job.id}/outputs/report.json/content`)).toString());
    expect(report.seed).toBe(7);
  });
});
