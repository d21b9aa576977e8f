/**
 * GET /v1/fusions/{id}/events/stream: the job's events as plain SSE (for
 * curl and EventSource). Each message carries `id: <seq>`, so a client that
 * reconnects with Last-Event-ID (or `?after=`) resumes exactly after the last
 * event it got. The stream ends after the terminal event.
 */
import type { Context as HonoContext } from 'hono';
import { streamSSE } from 'hono/streaming';
import { EventId, FusionId } from '@clafusion/contract';
import { ApiError } from '../errors.ts';
import { followEvents } from '../jobs/follow-events.ts';
import type { Services } from '../trpc/context.ts';

export async function streamJobEvents(c: HonoContext, services: Services, tenant: string): Promise<Response> {
  const id = FusionId.safeParse(c.req.param('id'));
  if (!id.success) throw new ApiError('invalid_request', `Invalid request: id: ${id.error.issues[0].message}`, { field: 'id' });
  const rawAfter = c.req.header('last-event-id') ?? c.req.query('after') ?? '0';
  const after = EventId.safeParse(rawAfter);
  if (!after.success) throw new ApiError('invalid_request', `Invalid request: Last-Event-ID/after: ${after.error.issues[0].message}`, { field: 'after' });
  await services.jobs.get(tenant, id.data);
  const log = services.jobs.log(tenant, id.data);
  return streamSSE(c, async (stream) => {
    const abort = new AbortController();
    stream.onAbort(() => abort.abort());
    try {
      for await (const event of followEvents(log, Number(after.data), services.eventPollMs, abort.signal)) {
        await stream.writeSSE({ id: event.id, event: event.type, data: JSON.stringify(event) });
      }
    } catch (err) {
      // The client sees the stream end and reconnects with Last-Event-ID; the cause stays in the server log.
      console.error(`[api] event stream of ${id.data} failed:`, err);
    }
  });
}
