/**
 * Reconciliation (recover.ts) against BullMQ on the shared Redis (a queue
 * name of its own) and a folder store: what the queue lacks is put back,
 * what it holds is left alone, finished and hopeless jobs leave the index,
 * and lost schedules are armed again without touching the ones Redis kept.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { redisUrl, uniqueName } from '../../../testsupport/servers.ts';
import type { Schedule } from '@clafusion/contract';
import { newId } from '../ids.ts';
import type { ObjectStore } from '@clafusion/contract/ports';
import { BullMqQueue } from '../queue/bullmq-queue.ts';
import type { TickData } from '../schedules/tick-queue.ts';
import { FolderStore } from '../storage/index.ts';
import { layout } from '@clafusion/contract/store-layout';
import { JobLog, toJson } from '@clafusion/contract/job-log';
import type { JobRecord } from '@clafusion/contract/job-state';
import type { FusionQueueData } from '@clafusion/contract/queue-data';
import { Reconciler, reconcileJobs, reconcileSchedules } from './recover.ts';

const dir = mkdtempSync(join(tmpdir(), 'recover-'));
const queues: BullMqQueue<unknown>[] = [];
afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(): { store: ObjectStore; queue: BullMqQueue<FusionQueueData>; ticks: BullMqQueue<TickData> } {
  const store = new FolderStore({ root: join(dir, uniqueName('store')), fsync: false });
  const name = uniqueName('recover');
  const queue = new BullMqQueue<FusionQueueData>({ name, redisUrl: redisUrl() });
  const ticks = new BullMqQueue<TickData>({ name: `${name}-schedules`, redisUrl: redisUrl() });
  queues.push(queue as BullMqQueue<unknown>, ticks as BullMqQueue<unknown>);
  return { store, queue, ticks };
}

/** An unfinished job as JobService.create leaves it: record, `queued`, active-jobs entry. */
async function storedJob(store: ObjectStore, events: ('running' | 'succeeded')[] = []): Promise<string> {
  const id = newId('fus');
  const ref = { file: newId('file'), name: 'a', sha256: null };
  const record: JobRecord = {
    id,
    tenant: 't',
    created_at: new Date().toISOString(),
    spec: { models: [ref.file, ref.file], calibration: { file: ref.file } },
    inputs: { models: [ref, ref], calibration: ref, evaluation: null },
  };
  await store.put(layout.jobRecord('t', id), toJson(record));
  const log = new JobLog(store, 't', id);
  await log.append({ type: 'queued', message: 'queued' });
  for (const type of events) await log.append({ type, message: type });
  await store.put(layout.activeJob(id), toJson({ tenant: 't' }));
  return id;
}

const exists = (store: ObjectStore, key: string) => store.head(key).then((h) => h !== null);

describe('reconcileJobs', () => {
  it('re-enqueues what the queue lost, leaves what it holds, clears finished jobs and fails hopeless ones', async () => {
    const { store, queue } = setup();
    const lost = await storedJob(store);
    const held = await storedJob(store);
    await queue.enqueue(held, { tenant: 't', job_id: held });
    const finished = await storedJob(store, ['running', 'succeeded']);
    const hopeless = await storedJob(store, ['running', 'running', 'running']);

    expect(await reconcileJobs(store, queue, { maxRuns: 3 })).toEqual({ requeued: 1, cleared: 1, failed: 1 });
    expect(await queue.has(lost)).toBe(true);
    expect(await queue.has(held)).toBe(true);
    expect(await queue.waiting()).toBe(2);
    expect(await queue.has(finished)).toBe(false);
    expect(await exists(store, layout.activeJob(finished))).toBe(false);
    expect(await queue.has(hopeless)).toBe(false);
    expect(await exists(store, layout.activeJob(hopeless))).toBe(false);
    const failed = (await new JobLog(store, 't', hopeless).state())!.job;
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'internal_error' } });

    // Again: nothing to do, nothing duplicated.
    expect(await reconcileJobs(store, queue, { maxRuns: 3 })).toEqual({ requeued: 0, cleared: 0, failed: 0 });
    expect(await queue.waiting()).toBe(2);
  });

  it('a job the queue lost while it ran is enqueued again; the one it still runs is not', async () => {
    const { store, queue } = setup();
    const running = await storedJob(store, ['running']);
    const orphan = await storedJob(store, ['running']);
    await queue.enqueue(running, { tenant: 't', job_id: running });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const seen: string[] = [];
    const handle = queue.process(async (job) => {
      seen.push(job.id);
      if (job.id === running) await held;
    });
    try {
      while (!seen.includes(running)) await new Promise((r) => setTimeout(r, 10));
      expect(await reconcileJobs(store, queue)).toEqual({ requeued: 1, cleared: 0, failed: 0 });
      release();
      while (!seen.includes(orphan)) await new Promise((r) => setTimeout(r, 10));
      expect(seen.filter((id) => id === running)).toHaveLength(1);
    } finally {
      release();
      await handle.close();
    }
  });
});

describe('reconcileSchedules', () => {
  async function storedSchedule(store: ObjectStore, status: Schedule['status'], every: number): Promise<string> {
    const id = newId('sch');
    const schedule = { id, object: 'schedule', status, cron: null, timezone: null, every } as unknown as Schedule;
    await store.put(layout.scheduleRecord('t', id), toJson(schedule));
    await store.put(layout.scheduleIndexSystem(id), toJson({ tenant: 't' }));
    return id;
  }

  it('arms the active schedules Redis lacks, keeps the ones it holds, and removes paused ones', async () => {
    const { store, ticks } = setup();
    const kept = await storedSchedule(store, 'active', 3600);
    const lost = await storedSchedule(store, 'active', 7200);
    const paused = await storedSchedule(store, 'paused', 3600);
    await ticks.upsertSchedule(kept, { every: 3600_000 }, { tenant: 't', schedule_id: kept });
    await ticks.upsertSchedule(paused, { every: 3600_000 }, { tenant: 't', schedule_id: paused });
    const before = (await ticks.listSchedules()).find((s) => s.id === kept)!;

    expect(await reconcileSchedules(store, ticks)).toBe(1);
    const after = await ticks.listSchedules();
    expect(after.map((s) => s.id).sort()).toEqual([kept, lost].sort());
    expect(after.find((s) => s.id === lost)!.repeat).toEqual({ every: 7200_000 });
    // Not upserted again: the same next tick (an upsert would have fired one now).
    expect(after.find((s) => s.id === kept)!.next).toEqual(before.next);
    expect(await reconcileSchedules(store, ticks)).toBe(0);
  });
});

describe('Reconciler', () => {
  it('coalesces passes asked for while one runs into one more', async () => {
    const { store, queue, ticks } = setup();
    await storedJob(store);
    const reconciler = new Reconciler(store, queue, ticks, { intervalMs: 0, onReport: () => undefined });
    const passes = await Promise.all([reconciler.run(), reconciler.run(), reconciler.run()]);
    expect(passes[0]).toEqual({ requeued: 1, cleared: 0, failed: 0, schedules: 0 });
    expect(passes[1]).toBe(passes[2]);
    expect(passes[1]).toEqual({ requeued: 0, cleared: 0, failed: 0, schedules: 0 });
    await reconciler.close();
  });
});
