/**
 * Retention and deletion at scale-out: two API processes (`npm start`) on
 * the shared S3 server and Redis, both sweeping every 200 ms with a 5 s
 * pending-upload TTL. Expired uploads vanish while both instances run, ready
 * files stay, and a file a queued job uses is refused with 409 by either
 * instance. Then two sweepers racing over the same bucket: each expired
 * upload is removed by exactly one of them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileObject, FusionJob, ListPage } from '../api/contract/src/index.ts';
import { FileService } from '../api/src/files/file-service.ts';
import { FileLifecycle } from '../api/src/lifecycle/file-lifecycle.ts';
import { S3Store } from '../api/src/storage/index.ts';
import { redisUrl, s3Credentials, s3Endpoint, uniqueName } from '../testsupport/servers.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { type ServiceProcess, createKey, freePort, startApi, stopAll } from './support/processes.ts';
import { Rest, expectApiError } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-lifecycle-scaleout-'));
let fixtures: Fixtures;
let apis: Rest[];
let processes: ServiceProcess[];
let bucket: string;

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  bucket = uniqueName('clafusion-lifecycle');
  const env: Record<string, string> = {
    DATA_DIR: join(dir, 'data'),
    S3_BUCKET: bucket,
    S3_ENDPOINT: s3Endpoint(),
    S3_ACCESS_KEY_ID: s3Credentials().accessKeyId,
    S3_SECRET_ACCESS_KEY: s3Credentials().secretAccessKey,
    REDIS_URL: redisUrl(),
    QUEUE_NAME: uniqueName('lifecycle'),
    EVENT_POLL_MS: '100',
    PENDING_UPLOAD_TTL: '5',
    SWEEP_INTERVAL_MS: '200',
  };
  const ports = [await freePort(), await freePort()];
  // The first API makes the bucket; the second starts once it exists.
  processes = [await startApi({ ...env, PORT: String(ports[0]) })];
  processes.push(await startApi({ ...env, PORT: String(ports[1]) }));
  const key = await createKey(env, 'acme');
  apis = ports.map((port) => new Rest(`http://127.0.0.1:${port}`, key));
}, 120_000);

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const pending = (api: Rest, name: string) =>
  api.json<{ file: FileObject }>('/v1/files', { method: 'POST', json: { name, purpose: 'dataset', size: 128 } }).then((r) => r.file);

describe('lifecycle with two API instances on S3 and Redis', () => {
  it('both instances sweep expired pending uploads; ready files and their users stay', async () => {
    const [a, b] = [await apis[0].upload(fixtures.a, 'model'), await apis[1].upload(fixtures.b, 'model')];
    const cal = await apis[0].upload(fixtures.calibration, 'dataset');
    const abandoned = await Promise.all([pending(apis[0], 'p0'), pending(apis[1], 'p1'), pending(apis[0], 'p2'), pending(apis[1], 'p3')]);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const left = await apis[1].json<ListPage<FileObject>>('/v1/files?status=pending');
      if (left.data.length === 0) break;
      if (Date.now() > deadline) throw new Error(`still pending: ${left.data.map((f) => f.id)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const f of abandoned) for (const api of apis) await expectApiError(await api.fetch(`/v1/files/${f.id}`), 'not_found');
    const ready = await apis[0].json<ListPage<FileObject>>('/v1/files?status=ready');
    expect(ready.data.map((f) => f.id)).toEqual([cal.id, b.id, a.id]);

    // No runner: the job stays queued, and neither instance lets its files go.
    const job = await apis[0].json<FusionJob>('/v1/fusions', { method: 'POST', json: { models: [a.id, b.id], calibration: { file: cal.id } } });
    for (const api of apis) {
      const err = await expectApiError(await api.fetch(`/v1/files/${cal.id}`, { method: 'DELETE' }), 'file_in_use');
      expect(err.details.jobs).toEqual([job.id]);
      await expectApiError(await api.fetch(`/v1/fusions/${job.id}`, { method: 'DELETE' }), 'job_not_finished');
    }
    await apis[1].json(`/v1/fusions/${job.id}/cancel`, { method: 'POST' });
    expect((await apis[1].json<{ deleted: boolean }>(`/v1/fusions/${job.id}`, { method: 'DELETE' })).deleted).toBe(true);
    expect((await apis[0].json<{ deleted: boolean }>(`/v1/files/${cal.id}`, { method: 'DELETE' })).deleted).toBe(true);
    await expectApiError(await apis[1].fetch(`/v1/fusions/${job.id}`), 'not_found');
    for (const p of processes) expect(p.output()).not.toMatch(/\[sweeper\]|unhandled/);
  });

  it('two sweepers racing over one bucket remove each expired upload exactly once', async () => {
    const prefix = `${uniqueName('race')}/`;
    const newStore = () => new S3Store({ bucket, prefix, endpoint: s3Endpoint(), region: 'us-east-1', forcePathStyle: true, credentials: s3Credentials() });
    const first = newStore();
    // Claims are create-only puts. A server that honours If-None-Match makes them atomic across
    // processes, so each sweeper gets its own client; s3rver ignores the header, and the S3 store
    // then orders create-only puts with a lock per client (s3-store.ts), so there they share one.
    const native = (await first.conditionalMode()) === 'native';
    const make = (s: S3Store) => {
      const files = new FileService(s, { maxUploadBytes: 1 << 20, presignSeconds: 60 });
      return { files, lifecycle: new FileLifecycle(s, files) };
    };
    const [one, two] = [make(first), make(native ? newStore() : first)];
    const made = await Promise.all(Array.from({ length: 12 }, (_, i) => one.files.create('acme', { name: `f${i}`, purpose: 'dataset', size: 10 }, 'http://x')));
    const later = new Date(Date.now() + 10_000);
    const [r1, r2] = await Promise.all([one.lifecycle.sweepPending(1_000, later), two.lifecycle.sweepPending(1_000, later)]);
    expect(r1 + r2).toBe(made.length);
    for (const { file } of made) await expect(two.files.get('acme', file.id)).rejects.toMatchObject({ apiCode: 'not_found' });
    expect(await one.lifecycle.sweepPending(1_000, later)).toBe(0);
  });
});
