/** What a schedule answer adds to the stored record: its next tick and its newest run. */
import type { Schedule, ScheduleWithRuns } from '@clafusion/contract';
import { nextTick } from '../queue/schedule.ts';
import type { ScheduleService } from './schedule-service.ts';
import { repeatOf } from './trigger.ts';

export async function withRuns(schedules: ScheduleService, tenant: string, schedule: Schedule, now = Date.now()): Promise<ScheduleWithRuns> {
  const next_run_at = schedule.status === 'active' ? new Date(nextTick(repeatOf(schedule), now)).toISOString() : null;
  const { views } = await schedules.runs.list(tenant, schedule.id, undefined, 1);
  const last_run = views[0] ? await schedules.runs.toPublic(tenant, views[0]) : null;
  return { ...schedule, next_run_at, last_run };
}
