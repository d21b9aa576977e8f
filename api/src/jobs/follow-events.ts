/**
 * Follows a job's event log: yields every event after `after`, then polls
 * the store for new ones until the job's terminal event has been yielded (or
 * the client goes away). Polling the store, rather than listening to one
 * process, is what lets any API instance serve the stream of a job any
 * runner is working on, and lets a stream resume after an API restart.
 *
 * A stream lives as long as its job, so a failed store read (a reset
 * connection, a busy server) is retried with backoff; only a run of
 * failures ends the stream, and the client then resumes with Last-Event-ID.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type JobEvent, TERMINAL_STATUSES } from '@clafusion/contract';
import type { JobLog } from '@clafusion/contract/job-log';
import { isTerminal } from '@clafusion/contract/job-state';

const PAGE = 100;
const MAX_CONSECUTIVE_FAILURES = 8;

const isTerminalEvent = (e: JobEvent) => (TERMINAL_STATUSES as readonly string[]).includes(e.type);

/** Resolves false when aborted. */
async function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

export async function* followEvents(log: JobLog, after: number, pollMs: number, signal?: AbortSignal): AsyncGenerator<JobEvent> {
  let last = after;
  let failures = 0;
  while (!signal?.aborted) {
    let events: JobEvent[];
    let finished = false;
    try {
      events = await log.events(last, PAGE);
      if (events.length === 0) {
        const state = await log.state();
        // Gone, or finished with nothing after `last`: nothing more will come.
        finished = state === null || (isTerminal(state.job) && state.seq <= last);
      }
      failures = 0;
    } catch (err) {
      if (++failures >= MAX_CONSECUTIVE_FAILURES) throw err;
      if (!(await pause(pollMs * 2 ** Math.min(failures, 4), signal))) return;
      continue;
    }
    for (const event of events) {
      yield event;
      last = event.seq;
      if (isTerminalEvent(event)) return;
    }
    if (finished) return;
    if (events.length < PAGE && !(await pause(pollMs, signal))) return;
  }
}
