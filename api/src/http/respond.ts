/**
 * The one place that makes sure a response can be sent as built (issue #18).
 *
 * - `streamObject` answers with a stored object's bytes: every header is
 *   built and checked before the object is opened, and the object's stream is
 *   destroyed at once if the response cannot be made, so a failure never
 *   leaves a file descriptor for the garbage collector to close.
 * - `sendableResponses` is the outermost middleware: a response whose headers
 *   Node would refuse (it would answer a plain-text 500 of its own, outside
 *   the envelope) is replaced by the envelope, and its body is cancelled,
 *   which closes whatever stream fed it.
 * - `errorResponse` is the envelope itself, shared with the app's onError.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { Readable } from 'node:stream';
import { Readable as NodeReadable } from 'node:stream';
import { createMiddleware } from 'hono/factory';
import type { ApiErrorBody } from '@clafusion/contract';
import { statusOf } from '../errors.ts';

export function errorResponse(body: ApiErrorBody, extraHeaders: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: body }), {
    status: statusOf(body),
    headers: { 'content-type': 'application/json', ...extraHeaders },
  });
}

/** The first header Node's http module would refuse to send, or null. */
export function unsendableHeader(headers: Headers | Record<string, string>): string | null {
  const entries = headers instanceof Headers ? [...headers.entries()] : Object.entries(headers);
  for (const [name, value] of entries) {
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      return name;
    }
  }
  return null;
}

/**
 * A response streaming `open()`'s bytes. `headers` are checked first (a
 * header that cannot be sent throws before anything is opened); the stream is
 * destroyed if wrapping it fails.
 */
export async function streamObject(open: () => Promise<Readable>, headers: Record<string, string>): Promise<Response> {
  const bad = unsendableHeader(headers);
  if (bad !== null) throw new Error(`refusing to build a response with an unsendable ${bad} header`);
  const stream = await open();
  try {
    return new Response(NodeReadable.toWeb(stream) as unknown as ReadableStream, { headers });
  } catch (err) {
    stream.destroy();
    throw err;
  }
}

export const sendableResponses = createMiddleware(async (c, next) => {
  await next();
  const bad = unsendableHeader(c.res.headers);
  if (bad === null) return;
  // Cancelling the body closes the stream (and file) behind it now, not at GC.
  await c.res.body?.cancel().catch(() => {});
  console.error(`[api] ${c.req.method} ${JSON.stringify(c.req.path)}: the response's ${bad} header cannot be sent; answered with the error envelope`);
  // Hono's `res` setter copies the previous response's headers into the new
  // one; clearing it first keeps the refused header out of the envelope.
  c.res = undefined;
  c.res = errorResponse({ code: 'internal_error', message: 'Internal server error', details: {} });
});
