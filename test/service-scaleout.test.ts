/**
 * The scale-out deployment, as separate processes on 127.0.0.1: the API
 * (`npm start` with S3_BUCKET and REDIS_URL), two runners (`npm run
 * runner`), the shared redis-server and s3rver. Raw HTTP and the SDK both
 * fuse and get the CLI's bytes; a runner killed mid-job leaves a job that
 * the other runner finishes, once; an API restarted mid-job loses nothing.
 * The runners reach S3 through a fault proxy with no faults, except where a
 * test holds one request to kill its runner at a known point.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileObject, FusionJob, JobEvent } from '../api/contract/src/index.ts';
import { createClient } from '../sdk/src/index.ts';
import { FaultProxy } from '../testsupport/fault-proxy.ts';
import { redisUrl, s3Credentials, s3Endpoint, uniqueName } from '../testsupport/servers.ts';
import { type Fixtures, fuseWithCli, writeFixtures } from './support/fixtures.ts';
import { type ServiceProcess, createKey, freePort, kill, startApi, startRunnerProcess, stopAll } from './support/processes.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-scaleout-'));
let fixtures: Fixtures;
let env: Record<string, string>;
let runnerEnv: Record<string, string>;
let proxy: FaultProxy;
let apiProcess: ServiceProcess;
let runners: ServiceProcess[];
let api: Rest;
let cliFused: Buffer;
let inputs: { a: FileObject; b: FileObject; cal: FileObject; ev: FileObject };

const TERMINAL = ['succeeded', 'failed', 'canceled'];

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  const port = await freePort();
  env = {
    PORT: String(port),
    DATA_DIR: join(dir, 'data'),
    S3_BUCKET: uniqueName('clafusion-scaleout'),
    S3_ENDPOINT: s3Endpoint(),
    S3_ACCESS_KEY_ID: s3Credentials().accessKeyId,
    S3_SECRET_ACCESS_KEY: s3Credentials().secretAccessKey,
    REDIS_URL: redisUrl(),
    QUEUE_NAME: uniqueName('fusions'),
    // A dead runner's job moves to the other one within about 3 s (the lock and stalled-check intervals below).
    QUEUE_LOCK_MS: '2000',
    QUEUE_STALLED_INTERVAL_MS: '1000',
    EVENT_POLL_MS: '100',
  };
  proxy = await FaultProxy.start(s3Endpoint());
  runnerEnv = { ...env, S3_ENDPOINT: proxy.url };
  apiProcess = await startApi(env);
  runners = await Promise.all([startRunnerProcess(runnerEnv), startRunnerProcess(runnerEnv)]);
  api = new Rest(`http://127.0.0.1:${port}`, await createKey(env, 'acme'));
  cliFused = readFileSync(await fuseWithCli(fixtures, ['--seed', '7'], 'cli-fused.safetensors'));
});

afterAll(async () => {
  await stopAll();
  await proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});

const spec = (seed = 7) => ({ models: [inputs.a.id, inputs.b.id], calibration: { file: inputs.cal.id }, evaluation: { file: inputs.ev.id }, seed });

async function eventsSoFar(jobId: string): Promise<JobEvent[]> {
  return (await api.json<{ data: JobEvent[] }>(`/v1/fusions/${jobId}/events?limit=100`)).data;
}

describe('scale-out: API + S3 + Redis + two runner processes', () => {
  it('raw HTTP: presigned uploads, SSE events, a redirect to the fused model, the CLI’s bytes', async () => {
    const { upload } = await api.json<{ upload: { via_api: boolean; url: string } }>('/v1/files', {
      method: 'POST',
      json: { name: 'probe.safetensors', purpose: 'model', size: 8 },
    });
    expect(upload.via_api).toBe(false);
    expect(upload.url.startsWith(s3Endpoint())).toBe(true);
    inputs = {
      a: await api.upload(fixtures.a, 'model'),
      b: await api.upload(fixtures.b, 'model'),
      cal: await api.upload(fixtures.calibration, 'dataset'),
      ev: await api.upload(fixtures.evaluation, 'dataset'),
    };
    // Presigned uploads bypass the API, so complete hashed the stored object.
    expect(inputs.a.sha256).toBe(createHash('sha256').update(readFileSync(fixtures.a)).digest('hex'));

    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec(), headers: { 'idempotency-key': 'scale-1' } });
    const events = await api.streamEvents(job.id);
    expect(events.at(-1)!.type, apiProcess.output()).toBe('succeeded');
    const runnerIds = runners.map((r) => `:${r.pid}`);
    const ran = events.find((e) => e.type === 'running')!.data.runner as string;
    expect(runnerIds.some((id) => ran.endsWith(id))).toBe(true);

    const redirect = await api.fetch(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')!.startsWith(s3Endpoint())).toBe(true);
    const fused = await api.download(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`);
    expect(Buffer.from(fused).equals(cliFused)).toBe(true);
  });

  it('SDK: createAndWait and download give the CLI’s bytes', async () => {
    const client = createClient({ baseUrl: api.base, apiKey: api.key });
    const a = await client.files.upload(fixtures.a, { purpose: 'model' });
    const progress: number[] = [];
    const job = await client.fusions.createAndWait(
      { ...spec(), models: [a.id, inputs.b.id] },
      { onProgress: (u) => progress.push(u.progress) },
    );
    expect(progress.at(-1)).toBe(1);
    expect(Buffer.from(await client.fusions.download(job.id, 'fused.safetensors')).equals(cliFused)).toBe(true);
  });

  it('a runner killed mid-job: the other runner picks the job up and it succeeds exactly once', async () => {
    // Mid-job for certain: the first runner's download of an input is held, and it is killed there.
    const inputContent = new RegExp(`/files/${inputs.a.id}/content`);
    proxy.addRule({ match: { method: 'GET', path: inputContent }, fault: { kind: 'hold' }, times: 1 });
    const held = proxy.nextHeld({ method: 'GET', path: inputContent });
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec() });
    const request = await held;
    const running = (await eventsSoFar(job.id)).find((e) => e.type === 'running')!;
    const victim = runners.find((r) => (running.data.runner as string).endsWith(`:${r.pid}`))!;
    await kill(victim);
    request.drop();

    const done = await api.waitFor(job.id, (j) => TERMINAL.includes(j.status), 240_000);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(2);
    const events = await eventsSoFar(job.id);
    expect(events.filter((e) => TERMINAL.includes(e.type)).map((e) => e.type)).toEqual(['succeeded']);
    const starts = events.filter((e) => e.type === 'running').map((e) => e.data.runner as string);
    expect(starts).toHaveLength(2);
    expect(starts[1]).not.toBe(starts[0]);
    const fused = await api.download(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`);
    expect(Buffer.from(fused).equals(cliFused)).toBe(true);
    runners = [...runners.filter((r) => r !== victim), await startRunnerProcess(runnerEnv)];
  });

  it('an API restarted mid-job loses nothing: the job finishes and the stream resumes where it stopped', async () => {
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec(8), headers: { 'idempotency-key': 'restart-1' } });
    const seen = await eventsSoFar(job.id);
    await kill(apiProcess);
    apiProcess = await startApi(env);

    const rest = await api.streamEvents(job.id, seen.at(-1)!.id);
    expect(rest[0].seq).toBe(seen.at(-1)!.seq + 1);
    expect(rest.at(-1)!.type).toBe('succeeded');
    const all = await eventsSoFar(job.id);
    expect(all.filter((e) => TERMINAL.includes(e.type))).toHaveLength(1);
    // The idempotency record survived too.
    const again = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec(8), headers: { 'idempotency-key': 'restart-1' } });
    expect(again).toMatchObject({ id: job.id, status: 'succeeded' });
    expect((await api.json<{ data: FusionJob[] }>('/v1/fusions?limit=100')).data.length).toBeGreaterThanOrEqual(4);
  });
});
