/**
 * Schedule ticks travel on a queue of their own, beside the fusion queue:
 * `<QUEUE_NAME>-schedules` on Redis, an in-process queue on the embedded
 * default. API instances consume it (not runners) because turning a tick
 * into a job is control-plane work: it resolves lineages, validates inputs
 * and writes job records through the API's own services; runners only see
 * the fusion jobs that come out of it, so a GPU busy with a long fusion never
 * delays a tick, and the runner stays unaware of schedules.
 */
import type { JobQueue, JobScheduler, ObjectStore, ScheduleRepeat } from '@clafusion/contract/ports';
import { readJson } from '@clafusion/contract/job-log';
import type { Schedule } from '@clafusion/contract';
import { layout } from '@clafusion/contract/store-layout';
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
 * store does not. With `armed` (what `ticks` holds now, by id) only what
 * differs changes: a schedule that is missing or has another trigger is
 * armed, an inactive one that is armed is removed. BullMQ keeps its job
 * schedulers in Redis, but loses them with a Redis that comes back empty;
 * re-upserting one it still has would fire an extra immediate tick, hence
 * `armed` (jobs/recover.ts). Returns how many it armed.
 */
export async function armStoredSchedules(store: ObjectStore, ticks: TickQueue, armed?: ReadonlyMap<string, ScheduleRepeat>): Promise<number> {
  let count = 0;
  let after: string | undefined;
  do {
    const page = await store.list(layout.schedulesIndex(), { after, limit: 1000 });
    for (const o of page.objects) {
      const id = o.key.slice(o.key.lastIndexOf('/') + 1);
      const entry = await readJson<{ tenant: string }>(store, o.key);
      const schedule = entry ? await readJson<Schedule>(store, layout.scheduleRecord(entry.tenant, id)) : null;
      if (!entry || !schedule || schedule.status !== 'active') {
        if (!armed || armed.has(id)) await ticks.removeSchedule(id);
        continue;
      }
      const repeat = repeatOf(schedule);
      if (armed && sameRepeat(armed.get(id), repeat)) continue;
      await ticks.upsertSchedule(id, repeat, { tenant: entry.tenant, schedule_id: id });
      count++;
    }
    after = page.next;
  } while (after);
  return count;
}

function sameRepeat(a: ScheduleRepeat | undefined, b: ScheduleRepeat): boolean {
  if (!a) return false;
  if ('every' in a || 'every' in b) return 'every' in a && 'every' in b && a.every === b.every;
  return a.pattern === b.pattern && (a.tz ?? 'UTC') === (b.tz ?? 'UTC');
}
