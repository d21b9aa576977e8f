/**
 * The tRPC instance: `isDev: false` so no stack ever reaches a client, an
 * error formatter that adds the contract's envelope body (`data.error`) to
 * every error, and the `protectedProcedure` every endpoint uses.
 */
import { initTRPC } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { LIMITS } from '@clafusion/contract';
import { ApiError, fromInfrastructure, toApiErrorBody } from '../errors.ts';
import type { Context } from './context.ts';

const t = initTRPC
  .meta<OpenApiMeta>()
  .context<Context>()
  .create({
    isDev: false,
    errorFormatter({ shape, error }) {
      const { stack: _stack, ...data } = shape.data as typeof shape.data & { stack?: string };
      const body = toApiErrorBody(error);
      return { ...shape, message: body.message, data: { ...data, error: body } };
    },
  });

export const router = t.router;

/** Converts infrastructure failures to 503 so clients know to retry. */
const mapInfrastructureErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const mapped = fromInfrastructure(result.error.cause);
    if (mapped instanceof ApiError) throw mapped;
  }
  return result;
});

export const protectedProcedure = t.procedure.use(mapInfrastructureErrors).use(({ ctx, next }) => {
  if (ctx.tenant === null) {
    throw new ApiError('unauthorized', 'Missing or invalid API key; send Authorization: Bearer <key>', {});
  }
  const key = ctx.idempotencyKey;
  if (key !== null && (key.length === 0 || key.length > LIMITS.maxIdempotencyKeyLength)) {
    throw new ApiError('invalid_request', `Idempotency-Key must be 1 to ${LIMITS.maxIdempotencyKeyLength} characters`, {
      field: 'Idempotency-Key',
    });
  }
  return next({ ctx: { ...ctx, tenant: ctx.tenant } });
});
