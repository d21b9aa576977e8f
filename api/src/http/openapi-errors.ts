/**
 * The errors each operation can answer, for the OpenAPI document: every
 * operation lists each status it can return with the error envelope and the
 * codes that status carries for it. Rules that hold for every operation
 * (schema, auth, rate limit, outages), for every path with an id (not_found,
 * also for other tenants' ids: never 403), for every JSON body, and for every
 * write, plus what each operation adds.
 */
import { z } from 'zod';
import { API_ERROR_STATUS, type ApiErrorCode } from '@clafusion/contract';

const EVERY: ApiErrorCode[] = ['invalid_request', 'unauthorized', 'rate_limited', 'internal_error', 'service_unavailable'];
const JSON_BODY: ApiErrorCode[] = ['payload_too_large', 'unsupported_media_type'];
const WRITE: ApiErrorCode[] = ['insufficient_storage'];

/** What an operation adds, by `METHOD path` (paths as in the document, under /v1). */
const EXTRA: Record<string, ApiErrorCode[]> = {
  'POST /files': ['limit_exceeded'],
  'POST /files/{id}/complete': ['file_not_ready', 'invalid_file'],
  'GET /files/{id}/download': ['file_not_ready'],
  'DELETE /files/{id}': ['file_in_use'],
  'PUT /files/{id}/content': ['file_already_completed'],
  'GET /files/{id}/content': ['file_not_ready'],
  'POST /fusions': ['limit_exceeded', 'not_found', 'idempotency_key_reused', 'file_not_ready', 'incompatible_models', 'invalid_file'],
  'POST /fusions/{id}/cancel': ['job_not_cancelable'],
  'DELETE /fusions/{id}': ['job_not_finished'],
  'GET /fusions/{id}/outputs': ['output_not_ready'],
  'GET /fusions/{id}/outputs/{name}': ['output_not_ready'],
  'GET /fusions/{id}/outputs/{name}/content': ['output_not_ready'],
  'GET /fusions/{id}/report': ['output_not_ready'],
  'POST /fusions/{id}/links': ['output_not_ready'],
  'POST /lineages/{name}/versions': ['file_not_ready'],
  'POST /schedules': ['limit_exceeded', 'not_found'],
  'PATCH /schedules/{id}': ['limit_exceeded'],
};

/** Every error code `method path` can answer. */
export function errorCodesOf(method: string, path: string): ApiErrorCode[] {
  const m = method.toUpperCase();
  const codes = new Set<ApiErrorCode>(EVERY);
  if (path.includes('{')) codes.add('not_found');
  if (m === 'POST' || m === 'PATCH') for (const c of JSON_BODY) codes.add(c);
  if (m === 'PUT') codes.add('payload_too_large');
  if (m !== 'GET') for (const c of WRITE) codes.add(c);
  for (const c of EXTRA[`${m} ${path}`] ?? []) codes.add(c);
  return [...codes];
}

/** The error responses of an operation: one per status, each the envelope with its codes. */
export function errorResponses(method: string, path: string): Record<string, { description: string; content: { 'application/json': { schema: unknown } } }> {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of errorCodesOf(method, path)) {
    const status = API_ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, { description: string; content: { 'application/json': { schema: unknown } } }> = {};
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const envelope = z.object({
      error: z.object({
        code: z.enum(codes as [ApiErrorCode, ...ApiErrorCode[]]),
        message: z.string(),
        details: z.record(z.string(), z.unknown()),
      }),
    });
    out[String(status)] = {
      description: `Error envelope; code ${codes.join(', ')}`,
      content: { 'application/json': { schema: withoutDialect(z.toJSONSchema(envelope)) } },
    };
  }
  return out;
}

/** OpenAPI 3.1 schemas are JSON Schema 2020-12 already; the `$schema` key is noise there. */
function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _, ...rest } = schema;
  return rest;
}

type Operation = { operationId?: string; responses?: Record<string, unknown> };

/**
 * Replaces the generic error responses the generator adds (its own error
 * shape, a 403 no route answers) with the contract's, per operation, and
 * drops the generator's error schemas.
 */
export function withContractErrors<D extends object>(document: D): D {
  const doc = document as { paths?: Record<string, Record<string, unknown>>; components?: { schemas?: Record<string, unknown> } };
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, value] of Object.entries(item)) {
      if (!['get', 'put', 'post', 'patch', 'delete'].includes(method)) continue;
      const operation = value as Operation;
      const kept = Object.fromEntries(Object.entries(operation.responses ?? {}).filter(([status]) => /^[23]\d\d$/.test(status)));
      operation.responses = { ...kept, ...errorResponses(method, path) };
    }
  }
  const schemas = doc.components?.schemas;
  if (schemas) for (const name of Object.keys(schemas)) if (name.startsWith('error.')) delete schemas[name];
  return document;
}
