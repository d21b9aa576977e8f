/** fusions.*: create, get, list, cancel, events (list and live stream), outputs. */
import { tracked } from '@trpc/server';
import { z } from 'zod';
import {
  DeletedFusion,
  DownloadLink,
  EventId,
  FusionId,
  FusionJob,
  FusionRequest,
  JobEvent,
  JobOutput,
  ListFusionsInput,
  OutputName,
  listOf,
  listQuery,
} from '@clafusion/contract';
import { followEvents } from '../jobs/follow-events.ts';
import { protectedProcedure, router } from './init.ts';

const ById = z.strictObject({ id: FusionId });

export const OutputWithLink = JobOutput.extend({ download: DownloadLink });

export const fusionsRouter = router({
  create: protectedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/fusions',
        tags: ['fusions'],
        summary: 'Create a fusion job',
        description:
          'Models are file ids or lineage references ({"name": …, "version": N | "latest"}), resolved now: the job records the files and versions. Send an Idempotency-Key header to make retries safe: the same key and body return the same job; the same key with another body is a 409.',
        requestHeaders: z.object({ 'idempotency-key': z.string().optional() }),
      },
    })
    .input(FusionRequest)
    .output(FusionJob)
    .mutation(({ ctx, input }) => ctx.services.jobs.create(ctx.tenant, input, ctx.idempotencyKey)),

  get: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/fusions/{id}', tags: ['fusions'], summary: 'Get a fusion job' } })
    .input(ById)
    .output(FusionJob)
    .query(({ ctx, input }) => ctx.services.jobs.get(ctx.tenant, input.id)),

  list: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/fusions', tags: ['fusions'], summary: 'List fusion jobs, newest first', description: 'Filter with status (queued, running, succeeded, failed, canceled).' } })
    .input(ListFusionsInput)
    .output(listOf(FusionJob))
    .query(({ ctx, input }) => ctx.services.jobs.list(ctx.tenant, input.after, input.limit, input.status)),

  delete: protectedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/fusions/{id}',
        tags: ['fusions'],
        summary: 'Delete a finished job: its record, events and outputs',
        description: 'A queued or running job is refused with 409 job_not_finished: cancel it first.',
      },
    })
    .input(ById)
    .output(DeletedFusion)
    .mutation(({ ctx, input }) => ctx.services.jobLifecycle.delete(ctx.tenant, input.id)),

  cancel: protectedProcedure
    .meta({ openapi: { method: 'POST', path: '/fusions/{id}/cancel', tags: ['fusions'], summary: 'Cancel a fusion job' } })
    .input(ById)
    .output(FusionJob)
    .mutation(({ ctx, input }) => ctx.services.jobs.cancel(ctx.tenant, input.id)),

  events: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/fusions/{id}/events',
        tags: ['fusions'],
        summary: 'List a job’s events in order',
        description: 'Pass the last event id seen as `after`. GET /v1/fusions/{id}/events/stream serves the same events live as SSE.',
      },
    })
    .input(listQuery(EventId).extend({ id: FusionId }))
    .output(listOf(JobEvent))
    .query(({ ctx, input }) => ctx.services.jobs.events(ctx.tenant, input.id, Number(input.after ?? 0), input.limit)),

  outputs: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/fusions/{id}/outputs', tags: ['fusions'], summary: 'The outputs of a succeeded job, with download links' } })
    .input(ById)
    .output(z.object({ object: z.literal('list'), data: z.array(OutputWithLink) }))
    .query(async ({ ctx, input }) => {
      const job = await ctx.services.jobs.get(ctx.tenant, input.id);
      const data = await Promise.all(
        job.outputs.map(async (o) => ({ ...o, download: await ctx.services.jobs.outputLink(ctx.tenant, input.id, o.name, ctx.baseUrl) })),
      );
      return { object: 'list' as const, data };
    }),

  output: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/fusions/{id}/outputs/{name}', tags: ['fusions'], summary: 'A download link for one output' } })
    .input(z.strictObject({ id: FusionId, name: OutputName }))
    .output(DownloadLink)
    .query(({ ctx, input }) => ctx.services.jobs.outputLink(ctx.tenant, input.id, input.name, ctx.baseUrl)),

  /**
   * Live events over SSE (tRPC only). Each event is `tracked` by its id, so
   * a reconnecting client resumes after the last one it received.
   */
  stream: protectedProcedure
    .input(z.strictObject({ id: FusionId, lastEventId: EventId.nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      await ctx.services.jobs.get(ctx.tenant, input.id);
      const log = ctx.services.jobs.log(ctx.tenant, input.id);
      for await (const event of followEvents(log, Number(input.lastEventId ?? 0), ctx.services.eventPollMs, signal)) {
        yield tracked(event.id, event);
      }
    }),
});
