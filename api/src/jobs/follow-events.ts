/**
 * Follows a job's event log: yields every event after `after`, then polls
 * the store for new ones until the job's terminal event has been yielded (or
 * the client goes away). Polling the store, rather than listening to one
 * process, is what lets any API instance serve the stream of a job any
 * runner is working on, and lets a stream resume after an API restart.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type JobEvent, TERMINAL_STATUSES } from '../contract/index.ts';
import type { JobLog } from './job-log.ts';
import { isTerminal } from './job-state.ts';

const PAGE = 100;

const isTerminalEvent = (e: JobEvent) => (TERMINAL_STATUSES as readonly string[]).includes(e.type);

export async function* followEvents(log: JobLog, after: number, pollMs: number, signal?: AbortSignal): AsyncGenerator<JobEvent> {
  let last = after;
  while (!signal?.aborted) {
    const events = await log.events(last, PAGE);
    for (const event of events) {
      yield event;
      last = event.seq;
      if (isTerminalEvent(event)) return;
    }
    if (events.length === PAGE) continue;
    const state = await log.state();
    // Already finished before `after`: nothing more will come.
    if (state === null || (isTerminal(state.job) && state.seq <= last)) return;
    try {
      await sleep(pollMs, undefined, { signal });
    } catch {
      return;
    }
  }
}
