/** links.*: short-lived signed URLs to a job's report page and outputs, opened without an API key. */
import { CreateLinkInput, SignedLink } from '@clafusion/contract';
import { protectedProcedure, router } from './init.ts';

export const linksRouter = router({
  create: protectedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/fusions/{id}/links',
        tags: ['fusions'],
        summary: 'A signed link to the report page or an output, valid expires_in seconds (default 15 minutes), no API key needed',
        description: 'The link opens only this job’s target for this tenant; after `expires_at` (or for another job) it answers 401. The job must have succeeded.',
      },
    })
    .input(CreateLinkInput)
    .output(SignedLink)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.jobs.succeededWith(ctx.tenant, input.id, input.target === 'report' ? 'report.html' : input.target);
      const expires = Math.floor(Date.now() / 1000) + input.expires_in;
      const token = await ctx.services.links.sign(ctx.tenant, input.id, input.target, expires);
      const path = input.target === 'report' ? `/v1/fusions/${input.id}/report` : `/v1/fusions/${input.id}/outputs/${input.target}/content`;
      return { object: 'link' as const, url: `${ctx.baseUrl}${path}?link=${token}`, target: input.target, expires_at: new Date(expires * 1000).toISOString() };
    }),
});
