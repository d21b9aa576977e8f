/**
 * Errors the SDK throws: one class per HTTP status family, each carrying the
 * API's stable `code`, its message and details, so callers can branch with
 * `instanceof` or on `code`.
 */
import type { ApiErrorBody, ApiErrorCode, FusionJob } from './types.ts';

export class ClafusionError extends Error {
  override name = 'ClafusionError';
}

export class APIError extends ClafusionError {
  override name = 'APIError';
  readonly status: number;
  readonly code: ApiErrorCode | 'unknown';
  readonly details: Record<string, unknown>;

  constructor(status: number, body: Partial<ApiErrorBody> | null, fallback: string) {
    super(body?.message ?? fallback);
    this.status = status;
    this.code = body?.code ?? 'unknown';
    this.details = body?.details ?? {};
  }
}

export class BadRequestError extends APIError {
  override name = 'BadRequestError';
}
export class AuthenticationError extends APIError {
  override name = 'AuthenticationError';
}
export class NotFoundError extends APIError {
  override name = 'NotFoundError';
}
export class ConflictError extends APIError {
  override name = 'ConflictError';
}
export class PayloadTooLargeError extends APIError {
  override name = 'PayloadTooLargeError';
}
export class UnsupportedMediaTypeError extends APIError {
  override name = 'UnsupportedMediaTypeError';
}
export class UnprocessableEntityError extends APIError {
  override name = 'UnprocessableEntityError';
}
export class RateLimitError extends APIError {
  override name = 'RateLimitError';
}
export class InternalServerError extends APIError {
  override name = 'InternalServerError';
}

/** The API could not be reached (after retries). */
export class ConnectionError extends ClafusionError {
  override name = 'ConnectionError';
}

/** createAndWait: the job ended `failed` or `canceled`. */
export class JobFailedError extends ClafusionError {
  override name = 'JobFailedError';
  constructor(readonly job: FusionJob) {
    super(job.error ? `fusion ${job.id} ${job.status}: ${job.error.code}: ${job.error.message}` : `fusion ${job.id} ${job.status}`);
  }
}

const BY_STATUS: Record<number, typeof APIError> = {
  400: BadRequestError,
  401: AuthenticationError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  415: UnsupportedMediaTypeError,
  422: UnprocessableEntityError,
  429: RateLimitError,
};

export function errorFor(status: number, body: Partial<ApiErrorBody> | null, fallback: string): APIError {
  const Type = BY_STATUS[status] ?? (status >= 500 ? InternalServerError : APIError);
  return new Type(status, body, fallback);
}
