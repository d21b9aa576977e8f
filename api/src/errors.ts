/**
 * The API's one error type. It extends TRPCError so tRPC and trpc-to-openapi
 * carry it unchanged (with the HTTP status its code maps to), and it keeps the
 * contract's stable code and details for the envelope.
 */
import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { ZodError } from 'zod';
import { API_ERROR_STATUS, type ApiErrorBody, type ApiErrorCode } from '@clafusion/contract';
import { ObjectStoreError, QueueUnavailableError } from '@clafusion/contract/ports';

const TRPC_CODE_BY_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
  // tRPC has no 507; its transport answers 503 (also "retry later"), the envelope keeps insufficient_storage.
  507: 'SERVICE_UNAVAILABLE',
};

export class ApiError extends TRPCError {
  readonly apiCode: ApiErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ApiErrorCode, message: string, details: Record<string, unknown> = {}) {
    super({ code: TRPC_CODE_BY_STATUS[API_ERROR_STATUS[code]], message });
    this.apiCode = code;
    this.details = details;
  }

  get status(): number {
    return API_ERROR_STATUS[this.apiCode];
  }
}

export function notFound(what: string, id: string): ApiError {
  return new ApiError('not_found', `No such ${what}: ${id}`, { id });
}

/** zod issues as `{path, message}` pairs, paths dotted ("fusion.weights.0"). */
function issuesOf(error: ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/** Errors from the store/queue become 503 (retryable), 507 (out of space) or stay internal. */
export function fromInfrastructure(err: unknown): unknown {
  if (err instanceof ObjectStoreError && err.code === 'unavailable') {
    // A full disk is not an outage: "retry later" alone would not tell the operator what to do.
    if (err.errno === 'ENOSPC' || err.errno === 'EDQUOT') {
      return new ApiError('insufficient_storage', 'The object store is out of space; nothing was stored. Retry once space has been freed', {});
    }
    return new ApiError('service_unavailable', 'The object store is unavailable; retry later', {});
  }
  if (err instanceof QueueUnavailableError) {
    return new ApiError('service_unavailable', 'The job queue is unavailable; retry later', {});
  }
  return err;
}

/**
 * The envelope body for any error a handler raised. Unknown errors become a
 * bare internal_error: no message, no stack, nothing of the server's insides.
 */
export function toApiErrorBody(error: unknown): ApiErrorBody {
  if (error instanceof ApiError) return { code: error.apiCode, message: error.message, details: error.details };
  if (error instanceof TRPCError) {
    const cause = error.cause;
    if (cause instanceof ApiError) return toApiErrorBody(cause);
    // A zod failure is the caller's only as input validation (BAD_REQUEST); an
    // output that fails its schema is the server's bug: internal, and its
    // issues (the server's own data) stay out of the answer.
    if (error.code === 'BAD_REQUEST' && (cause instanceof ZodError || (cause instanceof Error && cause.name === 'ZodError'))) {
      const issues = issuesOf(cause as ZodError);
      const first = issues[0];
      const where = first && first.path ? `${first.path}: ` : '';
      return { code: 'invalid_request', message: `Invalid request: ${where}${first?.message ?? 'does not match the schema'}`, details: { issues } };
    }
    switch (error.code) {
      case 'PARSE_ERROR':
        return { code: 'invalid_request', message: 'The request body is not valid JSON', details: {} };
      case 'BAD_REQUEST':
        return { code: 'invalid_request', message: error.message, details: {} };
      case 'UNSUPPORTED_MEDIA_TYPE':
        return { code: 'unsupported_media_type', message: 'Send JSON bodies with content-type: application/json', details: {} };
      case 'NOT_FOUND':
        return { code: 'not_found', message: 'No such endpoint', details: {} };
      case 'METHOD_NOT_SUPPORTED':
        return { code: 'invalid_request', message: 'This endpoint does not support the method', details: {} };
      case 'PAYLOAD_TOO_LARGE':
        return { code: 'payload_too_large', message: 'The request body is too large', details: {} };
      case 'UNAUTHORIZED':
        return { code: 'unauthorized', message: error.message, details: {} };
    }
  }
  return { code: 'internal_error', message: 'Internal server error', details: {} };
}

export function statusOf(body: ApiErrorBody): number {
  return API_ERROR_STATUS[body.code];
}
