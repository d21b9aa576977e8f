/**
 * Redis restarted under a busy scale-out deployment: the API (`npm start`)
 * and two runners (`npm run runner`) on a redis-server of this file's own
 * and a shared folder store. Small MNIST MLP fusion jobs are queued and
 * running when redis-server is SIGKILLed and a fresh, empty one starts on the
 * same port: everything Redis held is gone. The store still knows which jobs
 * are unfinished, and the API's reconciliation (api/src/jobs/recover.ts)
 * puts them back when its connection is ready again. Every job ends
 * succeeded, once; the API kept answering reads during the outage and took
 * a new job, which ran once Redis was back; no process crashed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FusionJob, JobEvent } from '../api/contract/src/index.ts';
import { type PrivateRedis, startPrivateRedis } from '../testsupport/redis-server.ts';
import { uniqueName } from '../testsupport/servers.ts';
import { writeDigitModels } from './support/digits.ts';
import { type ServiceProcess, createKey, freePort, startApi, startRunnerProcess, stopAll } from './support/processes.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-redis-restart-'));
const TERMINAL = ['succeeded', 'failed', 'canceled'];
let redis: PrivateRedis;
let apiProcess: ServiceProcess;
let runners: ServiceProcess[];
let api: Rest;
let spec: (seed: number, epochs?: number) => object;

beforeAll(async () => {
  const trained = writeDigitModels(dir, 2);
  redis = await startPrivateRedis();
  const env = {
    PORT: String(await freePort()),
    // The folder store, shared by the three processes on this machine.
    DATA_DIR: join(dir, 'data'),
    REDIS_URL: redis.url,
    QUEUE_NAME: uniqueName('restart'),
    QUEUE_LOCK_MS: '2000',
    QUEUE_STALLED_INTERVAL_MS: '1000',
    // Give up on an unreachable Redis after 1 s (job creation goes on without it).
    QUEUE_UNAVAILABLE_AFTER_MS: '1000',
    // The periodic pass as well as the one on reconnect.
    RECONCILE_INTERVAL_MS: '2000',
    EVENT_POLL_MS: '100',
    // Seven jobs polled at once would exceed the default per-key rate limit.
    RATE_LIMIT_PER_SECOND: '0',
  };
  apiProcess = await startApi(env);
  runners = await Promise.all([startRunnerProcess(env), startRunnerProcess(env)]);
  api = new Rest(`http://127.0.0.1:${env.PORT}`, await createKey(env, 'acme'));
  const digits = await trained;
  const [deep, shallow, calibration, evaluation] = await Promise.all([
    api.upload(digits.models[0], 'model'),
    api.upload(digits.models[1], 'model'),
    api.upload(digits.calibration, 'dataset'),
    api.upload(digits.evaluation, 'dataset'),
  ]);
  // Finetuning epochs (on the labelled held-out digits) keep a job busy for a while.
  spec = (seed, epochs = 2) => ({
    models: [deep.id, shallow.id],
    calibration: { file: calibration.id },
    evaluation: { file: evaluation.id },
    seed,
    finetune: { epochs, train: { file: evaluation.id }, batch_size: 32, lr: 0.01 },
  });
}, 600_000);

afterAll(async () => {
  await stopAll();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const get = (id: string) => api.json<FusionJob>(`/v1/fusions/${id}`);
async function eventsOf(id: string): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  for (let after = '0'; ; ) {
    const page = await api.json<{ data: JobEvent[]; next_after: string | null }>(`/v1/fusions/${id}/events?limit=100&after=${after}`);
    events.push(...page.data);
    if (page.next_after === null) return events;
    after = page.next_after;
  }
}

describe('Redis restarted empty while jobs are queued and running', () => {
  it('every job still ends exactly once; the API answers throughout', { timeout: 600_000 }, async () => {
    const ids: string[] = [];
    // The first runs long enough to be still running once Redis is back, so
    // reconciliation hands it to the other runner as well.
    for (let i = 0; i < 6; i++) ids.push((await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec(i, i === 0 ? 100 : 2) })).id);

    // Kill Redis once a job runs while others wait.
    let before: FusionJob[];
    for (;;) {
      before = await Promise.all(ids.map(get));
      const statuses = before.map((j) => j.status);
      if (statuses.includes('running') && statuses.includes('queued')) break;
      expect(statuses.every((s) => s === 'queued' || s === 'running'), `jobs ended before Redis could be killed: ${statuses}`).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
    }
    await redis.kill();

    // Reads come from the store: they answer while Redis is away.
    const during = await Promise.all(ids.map(get));
    expect(during.map((j) => j.id)).toEqual(ids);
    const listed = await api.json<{ data: FusionJob[] }>('/v1/fusions?limit=100');
    expect(listed.data.map((j) => j.id)).toEqual(expect.arrayContaining(ids));
    // A job made now is recorded and waits for Redis (not a 500, not a hang).
    const created = await api.fetch('/v1/fusions', { method: 'POST', json: spec(6) });
    const late = (await created.json()) as FusionJob;
    expect(created.ok, `${created.status} ${JSON.stringify(late)}`).toBe(true);
    expect(late.status).toBe('queued');
    ids.push(late.id);
    expect((await get(late.id)).status).toBe('queued');

    await redis.restart();

    const done = await Promise.all(ids.map((id) => api.waitFor(id, (j) => TERMINAL.includes(j.status), 240_000))).catch((e: Error) => {
      throw new Error(`${e.message}\n--- api:\n${apiProcess.output()}\n--- runners:\n${runners.map((r) => r.output()).join('\n---\n')}`);
    });
    expect(done.map((j) => j.status)).toEqual(ids.map(() => 'succeeded'));
    for (const job of done) {
      const events = await eventsOf(job.id);
      const where = `${job.id}: ${events.map((e) => e.type).join(',')}`;
      // One log, in order, from `queued` to exactly one terminal event, nothing after it.
      expect(events.map((e) => e.seq), where).toEqual(events.map((_, i) => i + 1));
      expect(events[0].type, where).toBe('queued');
      expect(events.filter((e) => TERMINAL.includes(e.type)).map((e) => e.type), where).toEqual(['succeeded']);
      expect(events.at(-1)!.type, where).toBe('succeeded');
      const starts = events.filter((e) => e.type === 'running').map((e) => e.data.runner as string);
      expect(starts, where).toHaveLength(job.attempts);
      // A job still running when Redis came back usually runs on the other runner too (attempts 2): still one ending.
      expect(new Set(starts).size, where).toBe(starts.length);
      expect(job.outputs.map((o) => o.name).sort()).toEqual(['fused.safetensors', 'report.html', 'report.json']);
    }
    const fused = await api.download(`/v1/fusions/${late.id}/outputs/fused.safetensors/content`);
    expect(fused.byteLength).toBeGreaterThan(0);

    // Nobody crashed; both runners noticed Redis come back.
    for (const p of [apiProcess, ...runners]) expect(p.child.exitCode, p.output()).toBeNull();
    for (const r of runners) expect(r.output()).toMatch(/Redis is reachable again/);
    expect(apiProcess.output()).toMatch(/\[reconcile\] re-enqueued [1-9]/);
  });
});
