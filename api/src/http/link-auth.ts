/**
 * The report page and output downloads accept a signed link
 * (`?link=…`, links/signed-links.ts) in place of the bearer key: the link's
 * tenant becomes the request's, for that job and target only.
 */
import type { Context, MiddlewareHandler, Next } from 'hono';
import { FusionId, LinkTarget } from '@clafusion/contract';
import { ApiError } from '../errors.ts';
import type { Services } from '../trpc/context.ts';
import type { Env } from './binary-routes.ts';

export function linkOrKey(services: Services, requireKey: MiddlewareHandler<Env>, targetOf: (c: Context<Env>) => string | undefined): MiddlewareHandler<Env> {
  return async (c: Context<Env>, next: Next) => {
    const token = c.req.query('link');
    if (token === undefined) return requireKey(c, next);
    const id = FusionId.safeParse(c.req.param('id'));
    const target = LinkTarget.safeParse(targetOf(c));
    if (!id.success || !target.success) throw new ApiError('unauthorized', 'This link is not valid', {});
    c.set('tenant', await services.links.verify(token, id.data, target.data));
    await next();
  };
}
