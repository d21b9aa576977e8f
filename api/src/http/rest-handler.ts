/**
 * REST from the tRPC procedures via trpc-to-openapi, with two adjustments:
 * error bodies are rewritten to the contract's envelope `{error: {code,
 * message, details}}` with the status its code maps to, and a POST without a
 * body (e.g. `curl -X POST …/cancel`) is treated as `{}` so curl users need no
 * content-type for body-less actions.
 */
import { createOpenApiFetchHandler } from 'trpc-to-openapi';
import type { ApiErrorBody } from '../contract/index.ts';
import { statusOf } from '../errors.ts';
import { appRouter } from '../trpc/app-router.ts';
import { type Services, createContext } from '../trpc/context.ts';

/** JSON request bodies (specs, file descriptions) are small; uploads use the streaming endpoint. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;

function withEmptyJsonBody(req: Request): Request {
  const hasBody = req.headers.has('transfer-encoding') || Number(req.headers.get('content-length') ?? '0') > 0;
  if (req.method !== 'POST' || hasBody || req.headers.has('content-type')) return req;
  const headers = new Headers(req.headers);
  headers.set('content-type', 'application/json');
  return new Request(req.url, { method: 'POST', headers, body: '{}' });
}

export async function handleRest(services: Services, req: Request): Promise<Response> {
  const response = await createOpenApiFetchHandler({
    endpoint: '/v1',
    router: appRouter,
    req: withEmptyJsonBody(req),
    createContext: () => createContext(services, req),
  } as Parameters<typeof createOpenApiFetchHandler>[0]);
  if (response.status < 400) return response;
  const body = (await response.json()) as { data?: { error?: ApiErrorBody } };
  const error: ApiErrorBody = body.data?.error ?? { code: 'internal_error', message: 'Internal server error', details: {} };
  return Response.json({ error }, { status: statusOf(error) });
}
