/**
 * The Hono app: /healthz, tRPC at /trpc, REST at /v1 (generated from the
 * same procedures), the OpenAPI document at /v1/openapi.json, and the byte
 * and SSE endpoints. Every error leaves as the contract's envelope.
 */
import { trpcServer } from '@hono/trpc-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { authenticate } from '../auth/api-keys.ts';
import { ApiError, fromInfrastructure, toApiErrorBody } from '../errors.ts';
import { appRouter } from '../trpc/app-router.ts';
import { type Services, createContext } from '../trpc/context.ts';
import { type Env, mountBinaryRoutes } from './binary-routes.ts';
import { corsFor } from './cors.ts';
import { linkOrKey } from './link-auth.ts';
import { openApiDocument } from './openapi.ts';
import { type RateLimitSettings, rateLimit } from './rate-limit.ts';
import { errorResponse, sendableResponses } from './respond.ts';
import { MAX_JSON_BODY_BYTES, handleRest } from './rest-handler.ts';

export interface AppOptions {
  /** Per-API-key token bucket (rate-limit.ts); null or absent = no limit. */
  rateLimit?: RateLimitSettings | null;
  /** Origins browsers may call from (CORS_ORIGINS; cors.ts); none by default. */
  corsOrigins?: readonly string[];
}

export function createApp(services: Services, options: AppOptions = {}): Hono<Env> {
  const app = new Hono<Env>();
  // Outermost: whatever a route built, what leaves can be sent (respond.ts).
  app.use('*', sendableResponses);

  const cors = corsFor(options.corsOrigins ?? []);
  if (cors) app.use('*', cors);

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  // Before everything else on the API routes, so a flooding key costs no body parsing or store reads.
  if (options.rateLimit) {
    const limit = rateLimit(options.rateLimit);
    app.use('/v1/*', limit);
    app.use('/trpc/*', limit);
  }

  // JSON bodies are small; only the streamed upload may be large (it has its own, per-file limit).
  const jsonLimit = bodyLimit({
    maxSize: MAX_JSON_BODY_BYTES,
    onError: () => {
      throw new ApiError('payload_too_large', `JSON request bodies are limited to ${MAX_JSON_BODY_BYTES} bytes`, { limit: MAX_JSON_BODY_BYTES });
    },
  });
  app.use('/trpc/*', jsonLimit);
  app.use('/v1/*', (c, next) => (c.req.method === 'PUT' && c.req.path.endsWith('/content') ? next() : jsonLimit(c, next)));

  app.use(
    '/trpc/*',
    trpcServer({
      router: appRouter,
      endpoint: '/trpc',
      createContext: (opts) => createContext(services, opts.req) as unknown as Promise<Record<string, unknown>>,
    }),
  );

  let document: unknown;
  app.get('/v1/openapi.json', (c) => {
    document ??= openApiDocument(`${services.publicUrl ?? new URL(c.req.url).origin}/v1`);
    return c.json(document);
  });

  const requireTenant = createMiddleware<Env>(async (c, next) => {
    const tenant = await authenticate(services.store, c.req.header('authorization'));
    if (tenant === null) throw new ApiError('unauthorized', 'Missing or invalid API key; send Authorization: Bearer <key>', {});
    c.set('tenant', tenant);
    await next();
  });
  app.use('/v1/files/:id/content', requireTenant);
  app.use('/v1/fusions/:id/outputs/:name/content', linkOrKey(services, requireTenant, (c) => c.req.param('name')));
  app.use('/v1/fusions/:id/events/stream', requireTenant);
  app.use('/v1/fusions/:id/report', linkOrKey(services, requireTenant, () => 'report'));
  mountBinaryRoutes(app, services);

  app.all('/v1/*', (c) => handleRest(services, c.req.raw));

  app.notFound((c) => c.json({ error: { code: 'not_found', message: 'No such endpoint', details: {} } }, 404));
  app.onError((err, c) => {
    const body = toApiErrorBody(fromInfrastructure(err));
    if (body.code === 'internal_error') console.error('[api] unhandled error:', err);
    // The rest of a refused body is never read, so the connection cannot carry another request.
    return errorResponse(body, body.code === 'payload_too_large' ? { connection: 'close' } : {});
  });
  return app;
}
