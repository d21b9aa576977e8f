/**
 * The endpoints that move bytes, which tRPC cannot express: the streamed
 * upload, file downloads and output downloads. Downloads redirect (302) to a
 * presigned URL when the store can presign, and stream otherwise.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { Context as HonoContext, Hono } from 'hono';
import { FileId, FusionId, OutputName } from '@clafusion/contract';
import { ApiError } from '../errors.ts';
import type { Services } from '../trpc/context.ts';
import { layout } from '@clafusion/contract/store-layout';
import { contentDisposition } from './content-disposition.ts';
import { streamObject } from './respond.ts';
import { streamJobEvents } from './sse.ts';

export type Env = { Variables: { tenant: string } };

/** The report page's policy (the same as its meta tag): nothing loads from anywhere. */
const REPORT_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

function param<T>(c: HonoContext, name: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } } }): T {
  const parsed = schema.safeParse(c.req.param(name));
  if (!parsed.success) throw new ApiError('invalid_request', `Invalid request: ${name}: ${parsed.error.issues[0].message}`, { field: name });
  return parsed.data;
}

async function sendObject(c: HonoContext, services: Services, key: string, fileName: string, contentType: string): Promise<Response> {
  const disposition = contentDisposition('attachment', fileName);
  const presigned = await services.store.presignGet(key, { expiresInSeconds: 900, contentDisposition: disposition });
  if (presigned) return c.redirect(presigned, 302);
  const info = await services.store.head(key);
  if (!info) throw new ApiError('not_found', `No content for ${fileName}`, {});
  return streamObject(() => services.store.get(key), {
    'content-type': contentType,
    'content-length': String(info.size),
    'content-disposition': disposition,
  });
}

export function mountBinaryRoutes(app: Hono<Env>, services: Services): void {
  app.put('/v1/files/:id/content', async (c) => {
    const id = param(c, 'id', FileId);
    const length = c.req.header('content-length');
    const body = c.req.raw.body;
    if (!body) throw new ApiError('invalid_request', 'The upload has no body', {});
    await services.files.receive(
      c.get('tenant'),
      id,
      Readable.fromWeb(body as unknown as NodeReadableStream),
      length === undefined ? null : Number(length),
    );
    return c.json(await services.files.get(c.get('tenant'), id));
  });

  app.get('/v1/files/:id/content', async (c) => {
    const id = param(c, 'id', FileId);
    const file = await services.files.get(c.get('tenant'), id);
    if (file.status !== 'ready') throw new ApiError('file_not_ready', `File ${id} is not completed yet`, { id });
    return sendObject(c, services, layout.fileContent(c.get('tenant'), id), file.name, 'application/octet-stream');
  });

  app.get('/v1/fusions/:id/outputs/:name/content', async (c) => {
    const id = param(c, 'id', FusionId);
    const name = param(c, 'name', OutputName);
    const key = await services.jobs.succeededWith(c.get('tenant'), id, name);
    return sendObject(c, services, key, name, name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
  });

  // The fusion's HTML report as a page (inline, not a download), under the
  // caller's auth and tenancy like every route. The page is self-contained;
  // the CSP header repeats its meta policy so no request can leave it.
  app.get('/v1/fusions/:id/report', async (c) => {
    const id = param(c, 'id', FusionId);
    const key = await services.jobs.succeededWith(c.get('tenant'), id, 'report.html');
    const html = await services.store.getBytes(key);
    return new Response(html, {
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': REPORT_PAGE_CSP,
        'x-content-type-options': 'nosniff',
        'cache-control': 'private, no-store',
      },
    });
  });

  app.get('/v1/fusions/:id/events/stream', (c) => streamJobEvents(c, services, c.get('tenant')));
}
