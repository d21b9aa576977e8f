/**
 * The scale-out deployment (API + two runner processes + Redis + S3) with a
 * faulty network between every process and S3 (issue #9): all S3 traffic —
 * the API's, the runners', and the presigned uploads and downloads of the
 * test's own client — goes through the fault-injecting proxy in front of the
 * shared s3rver. A job must end `succeeded` with outputs whose bytes hash to
 * the sha256 the job record gives, or `failed` with a clear error; never
 * succeeded with a missing or corrupt output.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateFileResult, FileObject, FusionJob, JobEvent } from '../api/contract/src/index.ts';
import { FaultProxy } from '../testsupport/fault-proxy.ts';
import { redisUrl, s3Endpoint, s3rverClient, s3rverClientConfig, uniqueName } from '../testsupport/servers.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { type ServiceProcess, createKey, freePort, startApi, startRunnerProcess, stopAll } from './support/processes.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-s3-faults-'));
const bucket = uniqueName('clafusion-faults');
const TERMINAL = ['succeeded', 'failed', 'canceled'];
const OUTPUTS_PUT = /\/fusions\/[^/?]+\/outputs\//;
/** A client attempt that hangs this long is abandoned and tried again (a hung request is a failure too, and shows in the retry error). */
const ATTEMPT_MS = 20_000;
let fixtures: Fixtures;
let proxy: FaultProxy;
let api: Rest;
let processes: ServiceProcess[] = [];

/** The tail of each service process's output, and how it exited: the message of a failed wait. */
function diagnostics(): string {
  return processes
    .map((p, i) => `--- ${i === 0 ? 'api' : `runner ${i}`} (pid ${p.pid}, exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'}):\n${p.output().slice(-1500)}`)
    .join('\n');
}

async function waitDone(jobId: string): Promise<FusionJob> {
  try {
    return await api.waitFor(jobId, (x) => TERMINAL.includes(x.status), 240_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${diagnostics()}\nlast S3 requests: ${JSON.stringify(proxy.log.slice(-10))}`);
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  proxy = await FaultProxy.start(s3Endpoint(), { seed: 9 });
  const credentials = s3rverClientConfig().credentials as { accessKeyId: string; secretAccessKey: string };
  const port = await freePort();
  const env = {
    PORT: String(port),
    DATA_DIR: join(dir, 'data'),
    S3_BUCKET: bucket,
    // Everyone talks to S3 through the proxy, presigned URLs included.
    S3_ENDPOINT: proxy.url,
    S3_ACCESS_KEY_ID: credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    REDIS_URL: redisUrl(),
    QUEUE_NAME: uniqueName('fusions'),
    QUEUE_LOCK_MS: '2000',
    QUEUE_STALLED_INTERVAL_MS: '1000',
    EVENT_POLL_MS: '100',
  };
  processes = await Promise.all([startApi(env), startRunnerProcess(env), startRunnerProcess(env)]);
  api = new Rest(`http://127.0.0.1:${port}`, await createKey(env, 'acme'));
});

afterAll(async () => {
  await stopAll();
  await proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * What a careful client does on a flaky network: try again on a network
 * error or a 5xx (503 is the API's "store unavailable, retry later").
 * Everything retried here is safe to repeat (creates carry idempotency keys
 * or make a new, unused record).
 */
async function retrying<T>(what: string, attempt: () => Promise<T>, attempts = 12): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await attempt();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 50 * Math.min(i + 1, 5)));
    }
  }
  throw new Error(`${what} failed ${attempts} times: ${(last as Error)?.message}`, { cause: last });
}

async function okJson<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what} → ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** create → presigned PUT (through the proxy) → complete, each step retried. */
async function upload(path: string, purpose: 'model' | 'dataset'): Promise<FileObject> {
  const body = readFileSync(path);
  const { file, upload: target } = await retrying('create file', async () =>
    okJson<CreateFileResult>(
      await api.fetch('/v1/files', { method: 'POST', json: { name: basename(path), purpose, size: statSync(path).size } }),
      'create file',
    ),
  );
  await retrying(`PUT ${basename(path)}`, async () => {
    const put = await fetch(target.url, {
      method: 'PUT',
      headers: { ...target.headers, ...(target.via_api ? api.headers() : {}) },
      body,
      signal: AbortSignal.timeout(ATTEMPT_MS),
    });
    const text = await put.text();
    if (!put.ok) throw new Error(`PUT ${target.url} → ${put.status} ${text}`);
  });
  const done = await retrying('complete', async () => okJson<FileObject>(await api.fetch(`/v1/files/${file.id}/complete`, { method: 'POST' }), 'complete'));
  // The API hashed what S3 holds: the bytes we sent, or the upload would have to be redone.
  expect(done.sha256).toBe(sha256(body));
  return done;
}

/** The output's bytes, downloaded (through the API's redirect to a presigned GET) until one download arrives whole. */
async function downloadOutput(jobId: string, name: string): Promise<Uint8Array> {
  return retrying(`download ${name}`, async () => {
    const res = await api.fetch(`/v1/fusions/${jobId}/outputs/${name}/content`, { signal: AbortSignal.timeout(ATTEMPT_MS) });
    if (!res.ok) throw new Error(`download ${name} → ${res.status} ${await res.text()}`);
    const length = Number(res.headers.get('content-length'));
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (Number.isFinite(length) && bytes.byteLength !== length) throw new Error(`short download: ${bytes.byteLength} of ${length}`);
    return bytes;
  });
}

async function events(jobId: string): Promise<JobEvent[]> {
  return retrying('events', async () => (await okJson<{ data: JobEvent[] }>(await api.fetch(`/v1/fusions/${jobId}/events?limit=100`), 'events')).data);
}

/** What S3 itself holds under a job's outputs, read around the proxy. */
async function storedOutputs(jobId: string): Promise<{ key: string; sha256: string; metaSha256: string | undefined }[]> {
  const s3 = s3rverClient();
  try {
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: '' }));
    const keys = (list.Contents ?? []).map((o) => o.Key!).filter((k) => k.includes(`/fusions/${jobId}/outputs/`));
    return Promise.all(
      keys.map(async (key) => {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { key, sha256: sha256(await out.Body!.transformToByteArray()), metaSha256: head.Metadata?.sha256 };
      }),
    );
  } finally {
    s3.destroy();
  }
}

describe('scale-out on S3 through a faulty network', () => {
  let inputs: { a: FileObject; b: FileObject; cal: FileObject; ev: FileObject };
  const spec = (seed: number) => ({ models: [inputs.a.id, inputs.b.id], calibration: { file: inputs.cal.id }, evaluation: { file: inputs.ev.id }, seed });

  it('random latency, 5xx, resets and truncations: every job succeeds with intact outputs or fails clearly', { timeout: 600_000 }, async () => {
    for (const rule of [
      { fault: { kind: 'latency', ms: 20 }, probability: 0.1 },
      { fault: { kind: 'status', status: 500 }, probability: 0.05 },
      { fault: { kind: 'status', status: 503 }, probability: 0.02 },
      { fault: { kind: 'reset', phase: 'request' }, probability: 0.04 },
      { fault: { kind: 'reset', phase: 'response' }, probability: 0.04 },
      { fault: { kind: 'truncate' }, probability: 0.05 },
    ] as const) {
      proxy.addRule(rule);
    }
    // And certainly: a runner's first output PUT applied with its answer lost, and the first read-back of an output cut short.
    proxy.addRule({ match: { method: 'PUT', path: OUTPUTS_PUT }, fault: { kind: 'reset', phase: 'response' }, times: 1 });
    proxy.addRule({ match: { method: 'GET', path: /\/outputs\/fused\.safetensors/ }, fault: { kind: 'truncate', afterBytes: 200 }, times: 1 });
    const before = structuredClone(proxy.stats);

    inputs = {
      a: await upload(fixtures.a, 'model'),
      b: await upload(fixtures.b, 'model'),
      cal: await upload(fixtures.calibration, 'dataset'),
      ev: await upload(fixtures.evaluation, 'dataset'),
    };
    const jobs = await Promise.all(
      [11, 12, 13].map((seed) =>
        retrying('create job', async () =>
          okJson<FusionJob>(await api.fetch('/v1/fusions', { method: 'POST', json: spec(seed), headers: { 'idempotency-key': `faults-${seed}` } }), 'create job'),
        ),
      ),
    );
    const done = await Promise.all(jobs.map((j) => waitDone(j.id)));

    let succeeded = 0;
    for (const job of done) {
      if (job.status === 'failed') {
        // Allowed, but only with a clear error.
        expect(job.error, JSON.stringify(job)).toMatchObject({ code: expect.any(String), message: expect.any(String) });
        expect(job.outputs).toEqual([]);
        continue;
      }
      expect(job.status, diagnostics()).toBe('succeeded');
      succeeded++;
      expect(job.outputs.map((o) => o.name).sort()).toEqual(['fused.safetensors', 'report.html', 'report.json']);
      for (const output of job.outputs) {
        const bytes = await downloadOutput(job.id, output.name);
        expect(bytes.byteLength, output.name).toBe(output.size);
        expect(sha256(bytes), output.name).toBe(output.sha256);
      }
      expect((await events(job.id)).filter((e) => TERMINAL.includes(e.type)).map((e) => e.type)).toEqual(['succeeded']);
    }
    // Transient faults are what retries are for: with these rates every job gets through.
    expect(succeeded).toBe(3);
    const injected = (kind: keyof typeof before.faults) => proxy.stats.faults[kind] - before.faults[kind];
    for (const kind of ['latency', 'status', 'reset', 'truncate'] as const) expect(injected(kind), kind).toBeGreaterThan(0);
    expect(proxy.log.some((r) => r.method === 'PUT' && OUTPUTS_PUT.test(r.path) && r.faults.includes('reset'))).toBe(true);

    // Faults off: S3 itself holds exactly what the job records say, sha256 metadata included.
    proxy.clear();
    for (const job of done) {
      // Outputs are addressed by content: every stored output (a retried run's leftovers too) is under its own sha256.
      const stored = await storedOutputs(job.id);
      expect(stored.map((s) => s.sha256)).toEqual(expect.arrayContaining(job.outputs.map((o) => o.sha256)));
      for (const s of stored) {
        expect(s.metaSha256).toBe(s.sha256);
        expect(s.key.endsWith(`/${s.sha256}`), s.key).toBe(true);
      }
    }
  });

  it('output PUTs that always fail: the job fails in its upload stage, after its retries, and shows no outputs', { timeout: 600_000 }, async () => {
    proxy.clear();
    // Every output PUT (the other jobs are finished): this job's outputs can never be stored.
    proxy.addRule({ match: { method: 'PUT', path: OUTPUTS_PUT }, fault: { kind: 'status', status: 500 } });
    const job = await retrying('create job', async () =>
      okJson<FusionJob>(await api.fetch('/v1/fusions', { method: 'POST', json: spec(21), headers: { 'idempotency-key': 'faults-upload' } }), 'create job'),
    );
    const failed = await waitDone(job.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'internal_error', stage: 'upload' });
    expect(failed.attempts).toBe(3);
    expect(failed.outputs).toEqual([]);
    const all = await events(job.id);
    expect(all.some((e) => e.type === 'succeeded')).toBe(false);
    expect(all.filter((e) => e.type === 'failed')).toHaveLength(1);
    // Every attempt tried to store its output, and none of it reached S3.
    expect(proxy.log.filter((r) => r.method === 'PUT' && r.path.includes(`/fusions/${job.id}/outputs/`)).every((r) => r.faults.includes('status'))).toBe(true);
    expect(proxy.stats.faults.status).toBeGreaterThan(0);
    expect(await storedOutputs(job.id)).toEqual([]);
    const res = await api.fetch(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});
