/**
 * REST from the tRPC procedures via trpc-to-openapi, with two adjustments:
 * error bodies are rewritten to the contract's envelope `{error: {code,
 * message, details}}` with the status its code maps to, and a POST without a
 * body (e.g. `curl -X POST …/cancel`) is treated as `{}` so curl users need no
 * content-type for body-less actions.
 *
 * The fetch side is trpc-to-openapi's own fetch adapter (`createOpenApiFetchHandler`,
 * v3.3) with one change: its node handler is built once, not per request.
 * Building it walks the router, and outside NODE_ENV=production it first
 * validates the router by generating the whole OpenAPI document: measured
 * with `npm run load`, that was most of the CPU of a create-job request.
 */
import { TRPCError } from '@trpc/server';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import type { ApiErrorBody } from '@clafusion/contract';
import { statusOf } from '../errors.ts';
import { appRouter } from '../trpc/app-router.ts';
import { type Services, createContext } from '../trpc/context.ts';

/** JSON request bodies (specs, file descriptions) are small; uploads use the streaming endpoint. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;

const ENDPOINT = '/v1';

function withEmptyJsonBody(req: Request): Request {
  const hasBody = req.headers.has('transfer-encoding') || Number(req.headers.get('content-length') ?? '0') > 0;
  if (req.method !== 'POST' || hasBody || req.headers.has('content-type')) return req;
  const headers = new Headers(req.headers);
  headers.set('content-type', 'application/json');
  return new Request(req.url, { method: 'POST', headers, body: '{}' });
}

type ParsedBody = { valid: true; data: unknown } | { valid: false; cause: unknown };

/** As the library's adapter: JSON and form bodies are parsed up front, other bodies pass as the stream. */
async function parseBody(req: Request): Promise<ParsedBody> {
  try {
    const type = req.headers.get('content-type');
    if (type?.includes('application/json')) return { valid: true, data: JSON.parse(await req.text()) };
    if (type?.includes('application/x-www-form-urlencoded')) {
      const params = new URLSearchParams(await req.text());
      const data: Record<string, string[]> = {};
      for (const key of params.keys()) data[key] = params.getAll(key);
      return { valid: true, data };
    }
    return { valid: true, data: req.body };
  } catch (cause) {
    return { valid: false, cause };
  }
}

/** Who each in-flight request is for: the shared handler's createContext looks its request up here. */
const callers = new WeakMap<object, { services: Services; req: Request }>();

type NodeHandler = (req: Request, res: object) => Promise<void>;
let nodeHandler: NodeHandler | undefined;

function handler(): NodeHandler {
  nodeHandler ??= createOpenApiNodeHttpHandler({
    router: appRouter,
    createContext: ({ req }: { req: object }) => {
      const caller = callers.get(req);
      if (!caller) throw new Error('REST request without a caller');
      return createContext(caller.services, caller.req);
    },
  } as unknown as Parameters<typeof createOpenApiNodeHttpHandler>[0]) as unknown as NodeHandler;
  return nodeHandler;
}

async function openApiFetch(services: Services, original: Request, req: Request): Promise<Response> {
  const url = new URL(req.url.replace(ENDPOINT, '')).toString();
  const body = await parseBody(req);
  const proxy = new Proxy(req, {
    get: (target, prop) => {
      if (prop === 'url') return url;
      if (prop === 'body') {
        if (!body.valid) throw new TRPCError({ code: 'PARSE_ERROR', message: 'Failed to parse request body', cause: body.cause });
        return body.data;
      }
      return target[prop as keyof Request];
    },
  });
  callers.set(proxy, { services, req: original });
  const headers = new Headers();
  return new Promise((resolve, reject) => {
    let status = 200;
    const res = {
      setHeader: (key: string, value: string | string[]) => {
        if (typeof value === 'string') headers.set(key, value);
        else for (const v of value) headers.append(key, v);
      },
      get statusCode() {
        return status;
      },
      set statusCode(code: number) {
        status = code;
      },
      end: (text: string) => resolve(new Response(text, { headers, status })),
    };
    handler()(proxy, res).catch(reject);
  });
}

export async function handleRest(services: Services, req: Request): Promise<Response> {
  const response = await openApiFetch(services, req, withEmptyJsonBody(req));
  if (response.status < 400) return response;
  const body = (await response.json()) as { data?: { error?: ApiErrorBody } };
  const error: ApiErrorBody = body.data?.error ?? { code: 'internal_error', message: 'Internal server error', details: {} };
  return Response.json({ error }, { status: statusOf(error) });
}
