/**
 * Crashes in the middle of moving bytes (issue #9), with real processes on
 * 127.0.0.1 and real stores: no half-written object is ever visible as
 * complete.
 *
 * (a) The API SIGKILLed while a model file streams through it (the folder
 *     store; on S3 uploads go straight to a presigned URL and never through
 *     the API, see file-service.ts). The client sees a connection error; after
 *     a restart the file is still pending, nothing is stored under its content
 *     key, nothing partial is served, a job naming it is refused, and the same
 *     upload done again completes and fuses.
 * (b) A runner SIGKILLed while its PUT of fused.safetensors is held by a
 *     fault proxy (testsupport/fault-proxy.ts) between it and S3: no output is
 *     visible and the job is not succeeded; another runner then takes the job
 *     over (stall recovery) and it succeeds exactly once, with outputs whose
 *     sha256 match the record. The same with the PUT of report.json held,
 *     when the fused model is already stored: the API serves no output of the
 *     unfinished job.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderStoreRoot } from '../api/src/adapters.ts';
import { configFromEnv } from '../api/src/config.ts';
import type { CreateFileResult, FileObject, FusionJob, JobEvent } from '../api/contract/src/index.ts';
import { layout } from '../api/contract/src/store-layout.ts';
import { FolderStore, S3Store } from '../api/src/storage/index.ts';
import { FaultProxy } from '../testsupport/fault-proxy.ts';
import { redisUrl, s3Credentials, s3Endpoint, uniqueName } from '../testsupport/servers.ts';
import { type Fixtures, modelBytes, writeFixtures } from './support/fixtures.ts';
import { type ServiceProcess, createKey, freePort, kill, startApi, startRunnerProcess, stopAll } from './support/processes.ts';
import { Rest, expectApiError } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-crash-upload-'));
const fixtures: Fixtures = writeFixtures(dir);
const TERMINAL = ['succeeded', 'failed', 'canceled'];
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Polls `probe` until it returns a value; throws with `what` (and process output) after `timeoutMs`. */
async function until<T>(what: () => string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A PUT over node:http with a declared Content-Length, whose body is sent in
 * 64 KiB chunks with a pause between them and stops (without ending) halfway
 * until `gate` resolves: a slow client the test can catch mid-body.
 */
function slowPut(url: string, headers: Record<string, string>, bytes: Uint8Array, gate: Promise<void>) {
  const CHUNK = 64 * 1024;
  const half = Math.floor(bytes.length / CHUNK / 2) * CHUNK;
  let offset = 0;
  let sent = 0;
  const body = new Readable({
    read() {
      if (offset >= bytes.length) return void this.push(null);
      const chunk = bytes.subarray(offset, offset + CHUNK);
      offset += chunk.length;
      const push = () => {
        sent += chunk.length;
        this.push(chunk);
      };
      if (offset > half && offset - chunk.length <= half) void gate.then(push);
      else setTimeout(push, 5);
    },
  });
  const outcome = new Promise<{ status: number; body: string } | { error: NodeJS.ErrnoException }>((resolve) => {
    const req = request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(bytes.length) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      res.on('error', (error) => resolve({ error }));
    });
    req.on('error', (error) => resolve({ error }));
    body.pipe(req);
  });
  return { outcome, sent: () => sent, body };
}

describe('(a) the API killed while an upload streams through it (folder store)', () => {
  it('the client sees a connection error; after a restart the file is pending, nothing is stored or served, a job is refused; the upload again works', async () => {
    const port = await freePort();
    const env: Record<string, string> = {
      PORT: String(port),
      DATA_DIR: join(dir, 'folder-data'),
      EVENT_POLL_MS: '100',
      RATE_LIMIT_PER_SECOND: '0',
    };
    const store = new FolderStore({ root: folderStoreRoot(configFromEnv(env)) });
    const staging = join(store.root, '.staging');
    let apiProcess: ServiceProcess = await startApi(env);
    const api = new Rest(`http://127.0.0.1:${port}`, await createKey(env, 'acme'));
    const b = await api.upload(fixtures.b, 'model');
    const cal = await api.upload(fixtures.calibration, 'dataset');

    // A model of about 1 MiB (an MLP 16→1024→256→4), streamed in 64 KiB chunks.
    const big = modelBytes({ family: 'mlp', input: [16], hidden: [1024, 256], classes: 4, bias: false }, 11);
    const { file, upload } = await api.json<CreateFileResult>('/v1/files', {
      method: 'POST',
      json: { name: 'big.safetensors', purpose: 'model', size: big.length },
    });
    expect(upload.via_api).toBe(true);
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    const put = slowPut(upload.url, { ...api.headers(), 'content-type': 'application/octet-stream' }, big, gate);

    // Mid-body: the client is paused halfway and the API has written part of it to its staging file.
    const stagingBytes = () => readdirSync(staging).reduce((n, name) => n + (statSync(join(staging, name), { throwIfNoEntry: false })?.size ?? 0), 0);
    await until(
      () => `the API to stage part of the upload (client sent ${put.sent()} of ${big.length}):\n${apiProcess.output()}`,
      () => (put.sent() > 0 && stagingBytes() > 0 ? true : undefined),
    );
    await kill(apiProcess);
    const outcome = await put.outcome;
    openGate();
    put.body.destroy();
    expect('error' in outcome, JSON.stringify(outcome)).toBe(true);
    expect(put.sent()).toBeLessThan(big.length);

    // While it is down: nothing under the content key, the record is untouched, the staging leftover is not a key.
    const contentKey = layout.fileContent('acme', file.id);
    expect(await store.head(contentKey)).toBeNull();
    expect((await store.list(`tenants/acme/files/${file.id}/`)).objects.map((o) => o.key)).toEqual([layout.fileRecord('acme', file.id)]);
    expect((await store.list('')).objects.filter((o) => o.key.includes('staging'))).toEqual([]);

    apiProcess = await startApi(env);
    expect(await api.json<FileObject>(`/v1/files/${file.id}`)).toMatchObject({ status: 'pending', sha256: null, completed_at: null, model: null });
    // No partial data is served, and the half upload cannot be completed.
    await expectApiError(await api.fetch(`/v1/files/${file.id}/content`), 'file_not_ready');
    const incomplete = await expectApiError(await api.fetch(`/v1/files/${file.id}/complete`, { method: 'POST' }), 'file_not_ready');
    expect(incomplete.message).toContain(file.id);
    // A job naming it is refused, clearly.
    const spec = { models: [file.id, b.id], calibration: { file: cal.id }, seed: 3 };
    const refused = await expectApiError(await api.fetch('/v1/fusions', { method: 'POST', json: spec }), 'file_not_ready');
    expect(refused.message).toContain(file.id);
    expect(refused.details).toMatchObject({ id: file.id });

    // The same upload again, to the same URL: it completes, and the file fuses.
    const again = await fetch(upload.url, { method: 'PUT', headers: { ...api.headers(), 'content-type': 'application/octet-stream' }, body: big });
    expect(again.status, await again.clone().text()).toBe(200);
    const ready = await api.json<FileObject>(`/v1/files/${file.id}/complete`, { method: 'POST' });
    expect(ready).toMatchObject({ status: 'ready', size: big.length, sha256: sha256(big) });
    expect((await store.head(contentKey))!.sha256).toBe(sha256(big));
    // The dead API's staging file was swept by the new process (its writer is gone), so a crash leaks no disk.
    expect(readdirSync(staging)).toEqual([]);
    expect(Buffer.from(await api.download(`/v1/files/${file.id}/content`)).equals(Buffer.from(big))).toBe(true);
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
    const done = await api.waitFor(job.id, (j) => TERMINAL.includes(j.status), 240_000);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    await kill(apiProcess);
  });
});

describe('(b) a runner killed while it uploads its outputs (S3 behind a fault proxy)', () => {
  let env: Record<string, string>;
  let proxy: FaultProxy;
  let api: Rest;
  let store: S3Store;
  let spec: Record<string, unknown>;

  beforeAll(async () => {
    const port = await freePort();
    const bucket = uniqueName('clafusion-crash-upload');
    env = {
      PORT: String(port),
      DATA_DIR: join(dir, 's3-data'),
      S3_BUCKET: bucket,
      S3_ENDPOINT: s3Endpoint(),
      S3_ACCESS_KEY_ID: s3Credentials().accessKeyId,
      S3_SECRET_ACCESS_KEY: s3Credentials().secretAccessKey,
      REDIS_URL: redisUrl(),
      QUEUE_NAME: uniqueName('crash-upload'),
      // A dead runner's job moves to another one within a few seconds.
      QUEUE_LOCK_MS: '2000',
      QUEUE_STALLED_INTERVAL_MS: '1000',
      EVENT_POLL_MS: '100',
      RATE_LIMIT_PER_SECOND: '0',
    };
    proxy = await FaultProxy.start(s3Endpoint(), { seed: 9 });
    await startApi(env);
    api = new Rest(`http://127.0.0.1:${port}`, await createKey(env, 'acme'));
    store = new S3Store({ bucket, endpoint: s3Endpoint(), region: 'us-east-1', credentials: s3Credentials(), forcePathStyle: true });
    const a = await api.upload(fixtures.a, 'model');
    const b = await api.upload(fixtures.b, 'model');
    const cal = await api.upload(fixtures.calibration, 'dataset');
    const ev = await api.upload(fixtures.evaluation, 'dataset');
    spec = { models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: ev.id }, seed: 7 };
  });

  afterAll(async () => {
    await proxy?.close();
  });

  /**
   * Starts the only runner, talking to S3 through the proxy, which holds its
   * PUT of `output`; submits a job; SIGKILLs the runner while that PUT is
   * held, and drops the request it left behind (it never reaches S3).
   */
  async function killRunnerDuringUpload(output: string): Promise<{ job: FusionJob; victim: ServiceProcess }> {
    const path = new RegExp(`/outputs/${output.replace('.', '\\.')}`);
    proxy.addRule({ match: { method: 'PUT', path }, fault: { kind: 'hold' }, times: 1 });
    const victim = await startRunnerProcess({ ...env, S3_ENDPOINT: proxy.url });
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
    const held = await Promise.race([
      proxy.nextHeld({ method: 'PUT', path }),
      api.waitFor(job.id, (j) => TERMINAL.includes(j.status), 240_000).then((j) => {
        throw new Error(`the job ended (${j.status}) before its upload was held:\n${victim.output()}`);
      }),
    ]);
    expect(held.path).toContain(`${job.id}/outputs/${output}`);
    await kill(victim);
    held.drop();
    return { job, victim };
  }

  /** Another runner (straight to S3) takes the stalled job over; it succeeds once, with outputs as recorded. */
  async function rescue(job: FusionJob, victim: ServiceProcess): Promise<FusionJob> {
    const rescuer = await startRunnerProcess(env);
    const done = await api.waitFor(job.id, (j) => TERMINAL.includes(j.status), 240_000);
    expect(done.status, `${JSON.stringify(done.error)}\n${rescuer.output()}`).toBe('succeeded');
    const events = (await api.json<{ data: JobEvent[] }>(`/v1/fusions/${job.id}/events?limit=100`)).data;
    expect(events.filter((e) => TERMINAL.includes(e.type)).map((e) => e.type)).toEqual(['succeeded']);
    const runs = events.filter((e) => e.type === 'running').map((e) => e.data.runner as string);
    expect(runs).toHaveLength(2);
    expect(runs[0].endsWith(`:${victim.pid}`)).toBe(true);
    expect(runs[1].endsWith(`:${rescuer.pid}`)).toBe(true);

    // Every output downloads with the sha256 and size the job record states, as stored.
    expect(done.outputs.map((o) => o.name).sort()).toEqual(['fused.safetensors', 'report.html', 'report.json']);
    for (const output of done.outputs) {
      const bytes = await api.download(`/v1/fusions/${job.id}/outputs/${output.name}/content`);
      expect(sha256(bytes), output.name).toBe(output.sha256);
      expect(bytes.length, output.name).toBe(output.size);
      expect((await store.head(layout.jobOutput('acme', job.id, output.name, output.sha256)))!.sha256).toBe(output.sha256);
    }
    await kill(rescuer);
    return done;
  }

  it('held PUT of fused.safetensors: no output is visible and the job is not succeeded; another runner then finishes it exactly once', async () => {
    const { job, victim } = await killRunnerDuringUpload('fused.safetensors');

    expect((await store.list(layout.jobOutputs('acme', job.id))).objects).toEqual([]);
    const meanwhile = await api.json<FusionJob>(`/v1/fusions/${job.id}`);
    expect(meanwhile.status).toBe('running');
    expect(meanwhile.outputs).toEqual([]);
    await expectApiError(await api.fetch(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`), 'output_not_ready');

    await rescue(job, victim);
  });

  it('held PUT of report.json (the fused model already stored): the API serves no output of the unfinished job; the rerun succeeds once', async () => {
    const { job, victim } = await killRunnerDuringUpload('report.json');

    // The fused model is in the store, complete (an atomic put), but the job has not succeeded: the API hands out nothing.
    const stored = (await store.list(layout.jobOutputs('acme', job.id))).objects;
    expect(stored.map((o) => o.key.split('/').slice(-2, -1)[0])).toEqual(['fused.safetensors']);
    const earlySha256 = stored[0].key.split('/').pop();
    const meanwhile = await api.json<FusionJob>(`/v1/fusions/${job.id}`);
    expect(meanwhile.status).toBe('running');
    expect(meanwhile.outputs).toEqual([]);
    for (const name of ['fused.safetensors', 'report.json', 'report.html']) {
      await expectApiError(await api.fetch(`/v1/fusions/${job.id}/outputs/${name}/content`), 'output_not_ready');
    }
    await expectApiError(await api.fetch(`/v1/fusions/${job.id}/report`), 'output_not_ready');

    // The rerun writes the same deterministic bytes, under the same content-addressed key.
    const done = await rescue(job, victim);
    expect(done.outputs.find((o) => o.name === 'fused.safetensors')!.sha256).toBe(earlySha256);
  });
});
