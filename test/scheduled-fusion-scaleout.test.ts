/**
 * Scheduled multi-model fusion at scale-out: two API processes, two runner
 * processes, redis-server and s3rver. A schedule ticking every 3 s fuses
 * four MNIST MLPs of two depths named by lineage, then six after an update;
 * every tick makes exactly one job (the BullMQ scheduler fires once per
 * tick, and the tick is the job's idempotency key), each job succeeds once,
 * each success is one new version of the output lineage, and the fused
 * models evaluate far above chance on held-out digits. Pause stops the
 * ticks; a bad time zone is refused at create time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FusionJob, JobEvent, ModelVersion, Schedule, ScheduleRun } from '../api/contract/src/index.ts';
import { BadRequestError, type Client, createClient } from '../sdk/src/index.ts';
import { redisUrl, s3Credentials, s3Endpoint, uniqueName } from '../testsupport/servers.ts';
import { type Digits, writeDigitModels } from './support/digits.ts';
import { createKey, freePort, startApi, startRunnerProcess, stopAll } from './support/processes.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-scheduled-'));
let digits: Digits;
let apis: Rest[];
let client: Client;
let calibration: string;
let evaluation: string;

beforeAll(async () => {
  const trained = writeDigitModels(dir, 6);
  const env: Record<string, string> = {
    DATA_DIR: join(dir, 'data'),
    S3_BUCKET: uniqueName('clafusion-scheduled'),
    S3_ENDPOINT: s3Endpoint(),
    S3_ACCESS_KEY_ID: s3Credentials().accessKeyId,
    S3_SECRET_ACCESS_KEY: s3Credentials().secretAccessKey,
    REDIS_URL: redisUrl(),
    QUEUE_NAME: uniqueName('scheduled'),
    EVENT_POLL_MS: '100',
  };
  const ports = [await freePort(), await freePort()];
  // The first API makes the bucket; the others start once it exists (creating it at once from four processes races).
  await startApi({ ...env, PORT: String(ports[0]) });
  await Promise.all([startApi({ ...env, PORT: String(ports[1]) }), startRunnerProcess(env), startRunnerProcess(env)]);
  const key = await createKey(env, 'acme');
  apis = ports.map((port) => new Rest(`http://127.0.0.1:${port}`, key));
  client = createClient({ baseUrl: apis[1].base, apiKey: key });
  digits = await trained;
  const uploaded = await Promise.all(digits.models.map((m) => apis[0].upload(m, 'model')));
  for (const [i, file] of uploaded.entries()) await client.lineages.register(`digits-${i}`, file.id);
  calibration = (await apis[0].upload(digits.calibration, 'dataset')).id;
  evaluation = (await apis[0].upload(digits.evaluation, 'dataset')).id;
}, 600_000);

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const template = (k: number) => ({
  models: Array.from({ length: k }, (_, i) => ({ name: `digits-${i}`, version: 'latest' as const })),
  calibration: { file: calibration },
  evaluation: { file: evaluation },
});

async function allRuns(id: string): Promise<ScheduleRun[]> {
  const runs: ScheduleRun[] = [];
  for await (const run of client.schedules.runs(id, { limit: 100 })) runs.push(run);
  return runs;
}

async function runsUntil(id: string, done: (runs: ScheduleRun[]) => boolean, timeoutMs = 240_000): Promise<ScheduleRun[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runs = await allRuns(id);
    if (done(runs)) return runs;
    if (Date.now() > deadline) throw new Error(`runs: ${JSON.stringify(runs.map((r) => [r.outcome, r.output?.version]))}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const published = (k: number) => (runs: ScheduleRun[]) => runs.filter((r) => r.models?.length === k && r.output !== null).length;
const inFlight = (r: ScheduleRun) => r.outcome === 'pending' || r.outcome === 'queued' || r.outcome === 'running' || (r.outcome === 'succeeded' && r.output === null);

describe('scheduled fusion: two APIs, two runners, Redis, S3', () => {
  it('a bad time zone or cron expression is refused at create time, naming the field', async () => {
    const error = await client.schedules.create({ cron: '0 3 * * *', timezone: 'Atlantis/Capital', template: template(4), output: { lineage: 'nightly' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).details.field).toBe('timezone');
    const cron = await apis[0].fetch('/v1/schedules', { method: 'POST', json: { cron: '0 25 * * *', template: template(4), output: { lineage: 'nightly' } } });
    expect(cron.status).toBe(400);
    expect(((await cron.json()) as { error: { details: { field: string } } }).error.details.field).toBe('cron');
  });

  it('every tick makes exactly one job, 4 then 6 models; each success is one new output version, far above chance', async () => {
    const schedule: Schedule = await client.schedules.create({ name: 'digits', every: 3, template: template(4), output: { lineage: 'digits-fused' } });
    await runsUntil(schedule.id, (runs) => published(4)(runs) >= 2);
    await client.schedules.update(schedule.id, { template: { ...template(6), fusion: { anchor: 1 } } });
    await runsUntil(schedule.id, (runs) => published(6)(runs) >= 2);

    // Pause (through the other API instance), then nothing more may tick. A
    // tick that fired before the pause and was still being handled may land
    // after it (its handler read the schedule first); none may fire later.
    // The boundary is the pause's answer: a tick due while the request was
    // still on its way (seconds on a loaded machine) belonged to an active
    // schedule and may run; one due after the answer may not.
    expect((await apis[0].json<Schedule>(`/v1/schedules/${schedule.id}/pause`, { method: 'POST' })).status).toBe('paused');
    const pausedAt = Date.now();
    await new Promise((r) => setTimeout(r, 7_000));
    const runs = await runsUntil(schedule.id, (r) => !r.some(inFlight));
    expect(runs.filter((r) => Date.parse(r.tick_at) > pausedAt)).toEqual([]);
    await new Promise((r) => setTimeout(r, 4_000));
    expect((await allRuns(schedule.id)).length).toBe(runs.length);

    // Exactly one job per tick, each succeeded exactly once.
    const ticks = runs.map((r) => r.tick_at);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(runs.every((r) => r.outcome === 'succeeded' && r.job_id !== null)).toBe(true);
    const jobIds = runs.map((r) => r.job_id!);
    expect(new Set(jobIds).size).toBe(runs.length);
    const jobs: FusionJob[] = [];
    for await (const job of client.fusions.list({ limit: 100 })) jobs.push(job);
    expect(jobs.map((j) => j.id).sort()).toEqual([...jobIds].sort());
    for (const id of jobIds) {
      const events: JobEvent[] = [];
      for await (const e of client.fusions.events(id, { limit: 100 })) events.push(e);
      expect(events.filter((e) => e.type === 'succeeded' || e.type === 'failed' || e.type === 'canceled').map((e) => e.type)).toEqual(['succeeded']);
    }

    // One output version per run, numbered 1..N, each from its own job.
    const versions: ModelVersion[] = [];
    for await (const v of client.lineages.versions('digits-fused', { limit: 100 })) versions.push(v);
    expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual(runs.map((_, i) => i + 1));
    const sources = versions.map((v) => (v.source.type === 'schedule' ? v.source.job_id : null));
    expect([...sources].sort()).toEqual([...jobIds].sort());
    for (const run of runs) expect(versions.find((v) => v.version === run.output!.version)!.source).toMatchObject({ job_id: run.job_id });

    // 4 and then 6 models, and every fused model far above the 10 % of chance on held-out digits.
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const sizes = new Set(runs.map((r) => r.models!.length));
    expect(sizes).toEqual(new Set([4, 6]));
    for (const run of runs) {
      const job = byId.get(run.job_id!)!;
      expect(job.inputs.models).toHaveLength(run.models!.length);
      expect(job.metrics?.accuracy?.fused).toBeGreaterThan(0.5);
    }
    // The published version is a model file that can be fused or downloaded like any other.
    const latest = await client.lineages.version('digits-fused', 'latest');
    expect((await client.files.retrieve(latest.file)).model?.arch).toMatchObject({ family: 'mlp', classes: 10 });

    await client.schedules.delete(schedule.id);
    expect((await apis[1].fetch(`/v1/schedules/${schedule.id}`)).status).toBe(404);
  }, 600_000);
});
