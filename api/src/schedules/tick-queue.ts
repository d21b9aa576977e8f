/**
 * Schedule ticks travel on a queue of their own, beside the fusion queue:
 * `<QUEUE_NAME>-schedules` on Redis, an in-process queue on the embedded
 * default. API instances consume it (not runners) because turning a tick
 * into a job is control-plane work: it resolves lineages, validates inputs
 * and writes job records through the API's own services; runners only see
 * the fusion jobs that come out of it, so a GPU busy with a long fusion never
 * delays a tick, and the runner stays unaware of schedules.
 */
import type { JobQueue, JobScheduler, ObjectStore } from '../ports/index.ts';
import { readJson } from '../jobs/job-log.ts';
import type { Schedule } from '../contract/index.ts';
import { layout } from '../store-layout.ts';
import { repeatOf } from './trigger.ts';

/** What a tick carries: which schedule; everything else is read from the store at tick time. */
export interface TickData {
  tenant: string;
  schedule_id: string;
}

export type TickQueue = JobQueue<TickData> & JobScheduler<TickData>;

/** Attempts per tick (a tick whose handler failed on an infrastructure error is tried again). */
export const TICK_ATTEMPTS = 3;

/** The tick time of a tick job (`repeat:<schedule>:<ms>`, as both schedulers name them). */
export function tickOf(jobId: string): number {
  const tick = Number(jobId.slice(jobId.lastIndexOf(':') + 1));
  if (!Number.isSafeInteger(tick) || tick <= 0) throw new Error(`not a schedule tick job id: ${jobId}`);
  return tick;
}

/**
 * Arms every active schedule in the store on `ticks` (and disarms paused
 * ones): the in-process scheduler forgets its schedules on restart, the
 * store does not. BullMQ keeps its job schedulers in Redis and needs none
 * of this (re-upserting there would fire an extra immediate tick).
 */
export async function armStoredSchedules(store: ObjectStore, ticks: TickQueue): Promise<number> {
  let armed = 0;
  let after: string | undefined;
  do {
    const page = await store.list(layout.schedulesIndex(), { after, limit: 1000 });
    for (const o of page.objects) {
      const id = o.key.slice(o.key.lastIndexOf('/') + 1);
      const entry = await readJson<{ tenant: string }>(store, o.key);
      const schedule = entry ? await readJson<Schedule>(store, layout.scheduleRecord(entry.tenant, id)) : null;
      if (!entry || !schedule || schedule.status !== 'active') {
        await ticks.removeSchedule(id);
        continue;
      }
      await ticks.upsertSchedule(id, repeatOf(schedule), { tenant: entry.tenant, schedule_id: id });
      armed++;
    }
    after = page.next;
  } while (after);
  return armed;
}
