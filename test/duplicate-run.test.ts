/**
 * One job run twice at once (issue #9): a runner presumed dead that was not,
 * or a job re-enqueued after Redis lost it while a runner still ran it. The
 * runs write different report bytes (timings), so outputs are addressed by
 * content: the first `succeeded` event names its sha256s, the API serves
 * exactly those bytes, and the losing run removes what it wrote that the
 * record does not name.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { FusionJob } from '../api/contract/src/index.ts';
import { JobLog } from '../api/contract/src/jobs/job-log.ts';
import type { FusionQueueData } from '../api/contract/src/jobs/queue-data.ts';
import type { ObjectStore, QueuedJob } from '../api/contract/src/ports/index.ts';
import { layout } from '../api/contract/src/store-layout.ts';
import { FusionRunner } from '../gpu-runner/src/worker/fusion-runner.ts';
import { reserveFusionThreads } from '../gpu-runner/src/worker/run-in-thread.ts';
import { startEmbedded } from './support/embedded.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-duplicate-run-'));
let fixtures: Fixtures;
let server: Awaited<ReturnType<typeof startEmbedded>>;
let api: Rest;
let releaseThreads: () => void;

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  // No runner of its own: the test plays two runners on the same store.
  server = await startEmbedded(join(dir, 'store'), 0);
  api = new Rest(server.url, (await createApiKey(server.store, 'acme')).token);
  releaseThreads = reserveFusionThreads(2);
});

afterAll(async () => {
  releaseThreads?.();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The store, with puts of job outputs held until `gate` settles. */
function outputsAfter(store: ObjectStore, gate: Promise<unknown>): ObjectStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== 'put') {
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (key: string, ...rest: unknown[]) => {
        if (key.includes('/outputs/')) await gate.catch(() => {});
        return (target.put as (...a: unknown[]) => unknown)(key, ...rest);
      };
    },
  });
}

/** The queue's delivery of a job, as each adapter hands it to a runner. */
function delivery(jobId: string, attempt: number): QueuedJob<FusionQueueData> {
  return { id: jobId, data: { tenant: 'acme', job_id: jobId }, attempt, maxAttempts: 3, signal: new AbortController().signal, progress: async () => {} };
}

it('two runs of one job at once: one ending, the recorded outputs are what the API serves, and no unrecorded output is left', async () => {
  const [a, b, cal] = await Promise.all([api.upload(fixtures.a, 'model'), api.upload(fixtures.b, 'model'), api.upload(fixtures.calibration, 'dataset')]);
  const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { models: [a.id, b.id], calibration: { file: cal.id } } });

  // The worst interleaving, made certain: the second run's output puts wait
  // until the first run has recorded its outputs, so they land afterwards.
  const first = new FusionRunner(server.store, { runnerId: 'first' });
  const firstDone = first.handle(delivery(job.id, 1));
  const second = new FusionRunner(outputsAfter(server.store, firstDone), { runnerId: 'second', cancelPollMs: 60_000 });
  await Promise.all([firstDone, second.handle(delivery(job.id, 1))]);

  const done = await api.json<FusionJob>(`/v1/fusions/${job.id}`);
  expect(done.status).toBe('succeeded');
  const events = await new JobLog(server.store, 'acme', job.id).events(0, 1000);
  expect(events.filter((e) => ['succeeded', 'failed', 'canceled'].includes(e.type)).map((e) => e.type)).toEqual(['succeeded']);
  // Both runners ran. They start at once, so which appends `running` first is
  // not ordered by the code (issue #19): compare as a set.
  expect(events.filter((e) => e.type === 'running').map((e) => String(e.data.runner)).sort()).toEqual(['first', 'second']);

  for (const output of done.outputs) {
    const bytes = await api.download(`/v1/fusions/${job.id}/outputs/${output.name}/content`);
    expect(createHash('sha256').update(bytes).digest('hex'), output.name).toBe(output.sha256);
  }
  const stored = (await server.store.list(layout.jobOutputs('acme', job.id))).objects.map((o) => o.key).sort();
  expect(stored).toEqual(done.outputs.map((o) => layout.jobOutput('acme', job.id, o.name, o.sha256)).sort());
});
