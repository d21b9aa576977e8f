/** lineages.*: register a model file as a new version, describe and list lineages and versions, delete a lineage. */
import { z } from 'zod';
import { Lineage, LineageName, ModelVersion, RegisterVersionInput, VersionNumber, listOf, listQuery } from '@clafusion/contract';
import { protectedProcedure, router } from './init.ts';

const ByName = z.strictObject({ name: LineageName });
/** Version numbers arrive as path/query strings over REST, as numbers over tRPC. */
const VersionParam = z.union([z.literal('latest'), z.coerce.number().pipe(VersionNumber)]);
const VersionCursor = z.string().regex(/^[1-9]\d{0,8}$/, 'must be a version number');

export const lineagesRouter = router({
  register: protectedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/lineages/{name}/versions',
        tags: ['lineages'],
        summary: 'Register a ready model file as the lineage’s next version',
        description: 'Creates the lineage on first use. Versions are immutable and numbered 1, 2, 3 …; concurrent registrations get distinct numbers.',
      },
    })
    .input(RegisterVersionInput)
    .output(ModelVersion)
    .mutation(({ ctx, input }) => ctx.services.lineages.register(ctx.tenant, input.name, input.file)),

  get: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/lineages/{name}', tags: ['lineages'], summary: 'Describe a lineage and its newest version' } })
    .input(ByName)
    .output(Lineage)
    .query(({ ctx, input }) => ctx.services.lineages.get(ctx.tenant, input.name)),

  list: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/lineages', tags: ['lineages'], summary: 'List lineages by name' } })
    .input(listQuery(LineageName))
    .output(listOf(Lineage))
    .query(({ ctx, input }) => ctx.services.lineages.list(ctx.tenant, input.after, input.limit)),

  versions: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/lineages/{name}/versions', tags: ['lineages'], summary: 'List a lineage’s versions, newest first' } })
    .input(listQuery(VersionCursor).extend({ name: LineageName }))
    .output(listOf(ModelVersion))
    .query(({ ctx, input }) => ctx.services.lineages.versions(ctx.tenant, input.name, input.after === undefined ? undefined : Number(input.after), input.limit)),

  version: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/lineages/{name}/versions/{version}', tags: ['lineages'], summary: 'One version (a number or "latest")' } })
    .input(z.strictObject({ name: LineageName, version: VersionParam }))
    .output(ModelVersion)
    .query(({ ctx, input }) => ctx.services.lineages.version(ctx.tenant, input.name, input.version)),

  delete: protectedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/lineages/{name}',
        tags: ['lineages'],
        summary: 'Delete a lineage and its versions',
        description: 'The model files stay. Schedules that reference the lineage keep running; their runs fail, naming it, until it is registered again.',
      },
    })
    .input(ByName)
    .output(z.object({ object: z.literal('lineage'), name: LineageName, deleted: z.literal(true) }))
    .mutation(({ ctx, input }) => ctx.services.lineages.delete(ctx.tenant, input.name)),
});
