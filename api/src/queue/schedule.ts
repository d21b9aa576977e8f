import { CronExpressionParser } from 'cron-parser';
import type { ScheduleRepeat } from '@clafusion/contract/ports';

/*
 * cron-parser is what BullMQ itself uses to compute job-scheduler ticks
 * (it is BullMQ's own dependency, pinned by bullmq@6.7.0), so the in-process
 * scheduler and the BullMQ one agree on every pattern, time zone and DST rule.
 */

/** Throws a TypeError naming the problem unless `repeat` is a usable schedule. */
export function validateRepeat(repeat: ScheduleRepeat): void {
  if ('every' in repeat) {
    if (!Number.isSafeInteger(repeat.every) || repeat.every < 1) {
      throw new TypeError(`every must be a positive integer number of milliseconds, got ${repeat.every}`);
    }
    return;
  }
  if (typeof repeat.pattern !== 'string' || repeat.pattern.trim() === '') throw new TypeError('A cron schedule needs a pattern');
  if (repeat.tz !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: repeat.tz });
    } catch {
      throw new TypeError(`Unknown time zone ${JSON.stringify(repeat.tz)}`);
    }
  }
  try {
    CronExpressionParser.parse(repeat.pattern, { tz: repeat.tz ?? 'UTC', strict: false }).next();
  } catch (e) {
    throw new TypeError(`Invalid cron pattern ${JSON.stringify(repeat.pattern)}: ${(e as Error).message}`);
  }
}

/** The first tick strictly after `now` (ms since the epoch). */
export function nextTick(repeat: ScheduleRepeat, now: number): number {
  if ('every' in repeat) {
    // Ticks are aligned to multiples of `every`, as BullMQ aligns them.
    return (Math.floor(now / repeat.every) + 1) * repeat.every;
  }
  return CronExpressionParser.parse(repeat.pattern, { currentDate: new Date(now), tz: repeat.tz ?? 'UTC' })
    .next()
    .getTime();
}

/** The job id a tick enqueues (the same shape BullMQ gives job-scheduler jobs). */
export function scheduledJobId(scheduleId: string, tick: number): string {
  return `repeat:${scheduleId}:${tick}`;
}
