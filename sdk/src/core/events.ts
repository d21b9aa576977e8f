/**
 * A job's events as an async iterator over the API's SSE endpoint. The
 * EventSource reconnects by itself after a dropped connection (or an API
 * restart) and sends Last-Event-ID, so no event is missed or repeated; the
 * iterator ends after the job's terminal event.
 */
import { EventSource } from 'eventsource';
import { ConnectionError, errorFor } from './errors.ts';
import type { HttpClient } from './http.ts';
import type { JobEvent } from './types.ts';

/** Every event type the API sends (kept in step with the contract by the type below). */
const EVENT_TYPES = ['queued', 'running', 'progress', 'cancel_requested', 'succeeded', 'failed', 'canceled'] as const satisfies readonly JobEvent['type'][];
type Missing = Exclude<JobEvent['type'], (typeof EVENT_TYPES)[number]>;
const _allTypesListed: Missing extends never ? true : Missing = true;
void _allTypesListed;

const TERMINAL = new Set<string>(['succeeded', 'failed', 'canceled']);

export async function* streamEvents(http: HttpClient, jobId: string, after?: string, signal?: AbortSignal): AsyncGenerator<JobEvent> {
  const url = http.url(`/v1/fusions/${encodeURIComponent(jobId)}/events/stream`, { after });
  const auth = http.authHeaders();
  const source = new EventSource(url, {
    fetch: (input, init) => http.fetch(input, { ...init, headers: { ...init.headers, ...auth } }),
  });
  const queue: JobEvent[] = [];
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (m) => {
      queue.push(JSON.parse(m.data) as JobEvent);
      notify();
    });
  }
  source.onerror = (e) => {
    // A closed source will not reconnect: the server refused the stream (4xx) or gave up.
    if (source.readyState === EventSource.CLOSED) {
      failure = e.code ? errorFor(e.code, { code: undefined, message: e.message }, e.message ?? 'event stream refused') : new ConnectionError(e.message ?? 'event stream failed');
      notify();
    }
  };
  const onAbort = () => {
    failure = new ConnectionError('aborted');
    notify();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      while (queue.length > 0) {
        const event = queue.shift()!;
        yield event;
        if (TERMINAL.has(event.type)) return;
      }
      if (failure) throw failure;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    source.close();
    signal?.removeEventListener('abort', onAbort);
  }
}

