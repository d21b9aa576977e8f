/**
 * When a schedule fires, checked when it is created or changed so that a bad
 * cron expression or time zone is a 400 naming the field, not a schedule
 * that silently never runs. The queue's own scheduler computes the ticks with
 * the same library (cron-parser, BullMQ's), so what is accepted here is what
 * fires there.
 */
import type { Schedule } from '@clafusion/contract';
import { SCHEDULE_LIMITS } from '@clafusion/contract';
import { ApiError } from '../errors.ts';
import type { ScheduleRepeat } from '@clafusion/contract/ports';
import { nextTick, validateRepeat } from '../queue/schedule.ts';

export type Trigger = Pick<Schedule, 'cron' | 'timezone' | 'every'>;

const invalid = (field: string, message: string) => new ApiError('invalid_request', `${field}: ${message}`, { field });

/** Checks a trigger and returns it normalised (null for what it does not use). */
export function checkTrigger(input: { cron?: string | null; timezone?: string | null; every?: number | null }): Trigger {
  const cron = input.cron ?? null;
  const every = input.every ?? null;
  const timezone = input.timezone ?? null;
  if ((cron === null) === (every === null)) throw invalid(cron === null ? 'cron' : 'every', 'give exactly one of cron (with an optional timezone) and every (seconds)');
  if (every !== null) {
    if (timezone !== null) throw invalid('timezone', 'a time zone only applies to a cron expression');
    return { cron: null, timezone: null, every };
  }
  if (timezone !== null) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      throw invalid('timezone', `unknown IANA time zone ${JSON.stringify(timezone)} (e.g. "Europe/Berlin", "UTC")`);
    }
  }
  const fields = cron!.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw invalid('cron', `${JSON.stringify(cron)} has ${fields} fields; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)`);
  const repeat: ScheduleRepeat = { pattern: cron!, tz: timezone ?? 'UTC' };
  try {
    validateRepeat(repeat);
  } catch (err) {
    throw invalid('cron', (err as Error).message);
  }
  // A cron expression may not fire more often than the shortest `every`.
  let at = nextTick(repeat, Date.now());
  for (let i = 0; i < 3; i++) {
    const next = nextTick(repeat, at);
    if (next - at < SCHEDULE_LIMITS.minEverySeconds * 1000) {
      throw invalid('cron', `${JSON.stringify(cron)} fires more often than every ${SCHEDULE_LIMITS.minEverySeconds} s, the shortest interval`);
    }
    at = next;
  }
  return { cron: cron!, timezone, every: null };
}

/** The queue's form of a (checked) trigger. */
export function repeatOf(trigger: Trigger): ScheduleRepeat {
  if (trigger.every !== null) return { every: trigger.every * 1000 };
  return { pattern: trigger.cron!, tz: trigger.timezone ?? 'UTC' };
}
