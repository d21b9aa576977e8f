/**
 * A completed file is immutable, also on S3 (issue #9). A presigned upload
 * URL stays valid for its whole lifetime, so a client can still PUT other
 * bytes to it after `complete`. The runner checks every input against the
 * sha256 the file was completed with, so such a job fails with a clear
 * `invalid_input` error instead of fusing bytes nobody validated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { CreateFileResult, FileObject, FusionJob } from '../api/contract/src/index.ts';
import type { FusionQueueData } from '../api/contract/src/jobs/queue-data.ts';
import { InProcessQueue } from '../api/src/queue/index.ts';
import { type RunningServer, startEmbeddedServer as startServer } from '../app/embedded.ts';
import { S3Store } from '../api/src/storage/index.ts';
import { s3Credentials, s3Endpoint, uniqueName } from '../testsupport/servers.ts';
import { ARCH_A, type Fixtures, modelBytes, writeFixtures } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-immutable-'));
let fixtures: Fixtures;
let store: S3Store;
let queue: InProcessQueue<FusionQueueData>;
let server: RunningServer;
let api: Rest;

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  store = new S3Store({ bucket: uniqueName('clafusion-immutable'), endpoint: s3Endpoint(), credentials: s3Credentials(), forcePathStyle: true });
  await store.ensureBucket();
  queue = new InProcessQueue<FusionQueueData>({ backoff: { type: 'fixed', delayMs: 10 } });
  server = await startServer({
    store,
    queue,
    host: '127.0.0.1',
    port: 0,
    inProcessRunners: 1,
    requeueOnStart: false,
    maxUploadBytes: 1024 * 1024,
    presignSeconds: 600,
    eventPollMs: 50,
    publicUrl: null,
  });
  api = new Rest(server.url, (await createApiKey(store, 'acme')).token);
});

afterAll(async () => {
  await server?.close();
  await queue?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a job whose input was overwritten through its presigned URL after complete fails with invalid_input naming the file', async () => {
  const original = modelBytes(ARCH_A, 1);
  const { file, upload } = await api.json<CreateFileResult>('/v1/files', {
    method: 'POST',
    json: { name: 'model-a.safetensors', purpose: 'model', size: original.length },
  });
  expect(upload.via_api).toBe(false);
  const put = (body: Uint8Array) => fetch(upload.url, { method: 'PUT', headers: upload.headers, body });
  expect((await put(original)).status).toBe(200);
  const ready = await api.json<FileObject>(`/v1/files/${file.id}/complete`, { method: 'POST' });
  expect(ready.status).toBe('ready');
  const b = await api.upload(fixtures.b, 'model');
  const cal = await api.upload(fixtures.calibration, 'dataset');
  const spec = { models: [file.id, b.id], calibration: { file: cal.id } };

  // Untouched, the job runs.
  const first = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
  expect((await api.waitFor(first.id, (j) => j.status === 'succeeded' || j.status === 'failed')).status).toBe('succeeded');

  // Same size (the URL may be signed for it), other weights: still a valid model, just not the one completed.
  const other = modelBytes(ARCH_A, 2);
  expect(other.length).toBe(original.length);
  expect((await put(other)).status).toBe(200);

  const second = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
  const done = await api.waitFor(second.id, (j) => j.status === 'succeeded' || j.status === 'failed');
  expect(done.status).toBe('failed');
  expect(done.error).toMatchObject({ code: 'invalid_input', stage: 'download', details: { file: file.id, expected_sha256: ready.sha256 } });
  expect(done.error?.message).toContain(file.id);
  expect(done.error?.message).toContain('changed after it was completed');
  // The file record still says what was validated.
  expect((await api.json<FileObject>(`/v1/files/${file.id}`)).sha256).toBe(ready.sha256);
});
