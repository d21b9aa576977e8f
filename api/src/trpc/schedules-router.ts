/** schedules.*: create, get, list, update, pause, resume, delete, and the runs each schedule produced. */
import { z } from 'zod';
import { CreateScheduleInput, RunId, ScheduleId, ScheduleRun, ScheduleWithRuns, UpdateScheduleInput, listOf, listQuery } from '@clafusion/contract';
import { withRuns } from '../schedules/schedule-times.ts';
import { protectedProcedure, router } from './init.ts';

const ById = z.strictObject({ id: ScheduleId });

export const schedulesRouter = router({
  create: protectedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/schedules',
        tags: ['schedules'],
        summary: 'Schedule a fusion: cron (+ time zone) or every N seconds',
        description:
          'Each tick resolves the template’s lineage references, creates one fusion job (Idempotency-Key schedule:<id>:<tick>) and, when it succeeds, publishes the fused model as the next version of output.lineage. A bad cron expression or time zone is a 400 naming the field.',
      },
    })
    .input(CreateScheduleInput)
    .output(ScheduleWithRuns)
    .mutation(async ({ ctx, input }) => {
      if (input.template.webhook) await ctx.services.webhooks.checkUrl(input.template.webhook.url, 'template.webhook.url');
      return withRuns(ctx.services.schedules, ctx.tenant, await ctx.services.schedules.create(ctx.tenant, input));
    }),

  get: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/schedules/{id}', tags: ['schedules'], summary: 'Get a schedule' } })
    .input(ById)
    .output(ScheduleWithRuns)
    .query(async ({ ctx, input }) => withRuns(ctx.services.schedules, ctx.tenant, await ctx.services.schedules.get(ctx.tenant, input.id))),

  list: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/schedules', tags: ['schedules'], summary: 'List schedules, newest first' } })
    .input(listQuery(ScheduleId))
    .output(listOf(ScheduleWithRuns))
    .query(async ({ ctx, input }) => {
      const page = await ctx.services.schedules.list(ctx.tenant, input.after, input.limit);
      return { ...page, data: await Promise.all(page.data.map((s) => withRuns(ctx.services.schedules, ctx.tenant, s))) };
    }),

  update: protectedProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/schedules/{id}',
        tags: ['schedules'],
        summary: 'Change a schedule (trigger, template, output, skip policy)',
        description: 'Fields left out stay; giving cron replaces every and the other way round. Takes effect from the next tick.',
      },
    })
    .input(UpdateScheduleInput)
    .output(ScheduleWithRuns)
    .mutation(async ({ ctx, input }) => {
      if (input.template?.webhook) await ctx.services.webhooks.checkUrl(input.template.webhook.url, 'template.webhook.url');
      return withRuns(ctx.services.schedules, ctx.tenant, await ctx.services.schedules.update(ctx.tenant, input));
    }),

  pause: protectedProcedure
    .meta({ openapi: { method: 'POST', path: '/schedules/{id}/pause', tags: ['schedules'], summary: 'Pause: no ticks until resumed' } })
    .input(ById)
    .output(ScheduleWithRuns)
    .mutation(async ({ ctx, input }) => withRuns(ctx.services.schedules, ctx.tenant, await ctx.services.schedules.pause(ctx.tenant, input.id))),

  resume: protectedProcedure
    .meta({ openapi: { method: 'POST', path: '/schedules/{id}/resume', tags: ['schedules'], summary: 'Resume a paused schedule' } })
    .input(ById)
    .output(ScheduleWithRuns)
    .mutation(async ({ ctx, input }) => withRuns(ctx.services.schedules, ctx.tenant, await ctx.services.schedules.resume(ctx.tenant, input.id))),

  delete: protectedProcedure
    .meta({ openapi: { method: 'DELETE', path: '/schedules/{id}', tags: ['schedules'], summary: 'Delete a schedule and its runs (the jobs it made stay)' } })
    .input(ById)
    .output(z.object({ id: ScheduleId, object: z.literal('schedule'), deleted: z.literal(true) }))
    .mutation(({ ctx, input }) => ctx.services.schedules.delete(ctx.tenant, input.id)),

  runs: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/schedules/{id}/runs',
        tags: ['schedules'],
        summary: 'The runs a schedule produced, newest first',
        description: 'Each run: its tick, the models it resolved, its job id and outcome (skipped, failed, or the job’s status) and the output version it published.',
      },
    })
    .input(listQuery(RunId).extend({ id: ScheduleId }))
    .output(listOf(ScheduleRun))
    .query(({ ctx, input }) => ctx.services.schedules.listRuns(ctx.tenant, input.id, input.after === undefined ? undefined : Number(input.after), input.limit)),

  run: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/schedules/{id}/runs/{run}', tags: ['schedules'], summary: 'One run (its id is the tick time in ms)' } })
    .input(z.strictObject({ id: ScheduleId, run: RunId }))
    .output(ScheduleRun)
    .query(({ ctx, input }) => ctx.services.schedules.getRun(ctx.tenant, input.id, Number(input.run))),
});
