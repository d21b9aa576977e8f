/**
 * CORS for browser apps: the origins in CORS_ORIGINS (comma-separated, or
 * `*`) may call every route, preflights included; with none configured no
 * response carries CORS headers and browsers keep cross-origin pages out.
 * Credentials are bearer tokens in a header, never cookies, so
 * `Access-Control-Allow-Credentials` is not sent.
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

export function corsFor(origins: readonly string[]): MiddlewareHandler | null {
  if (origins.length === 0) return null;
  return cors({
    origin: origins.includes('*') ? '*' : (origin) => (origins.includes(origin) ? origin : null),
    allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'last-event-id'],
    exposeHeaders: ['retry-after', 'content-disposition', 'content-length'],
    maxAge: 600,
  });
}
