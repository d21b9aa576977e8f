/**
 * The error envelope every endpoint answers with, and the stable error codes.
 * Clients branch on `code`; `message` is for people; `details` names what is
 * at fault (a field, a tensor, a limit). One table maps each code to its HTTP
 * status, so REST, tRPC and the SDK agree.
 */
import { z } from 'zod';

export const API_ERROR_STATUS = {
  /** The request does not match the schema: missing fields, wrong types, malformed ids or JSON. */
  invalid_request: 400,
  /** A documented limit (models per job, calibration samples) is exceeded. */
  limit_exceeded: 400,
  /** No API key, or one that is not valid. */
  unauthorized: 401,
  /** No such resource for this tenant (other tenants' resources answer the same). */
  not_found: 404,
  /** The same Idempotency-Key was sent before with a different body. */
  idempotency_key_reused: 409,
  /** The job already finished (succeeded or failed) and cannot be canceled. */
  job_not_cancelable: 409,
  /**
   * A file is referenced before its upload was completed (or completed while an upload of it
   * still streams through the API), or uploaded again after it.
   */
  file_not_ready: 409,
  file_already_completed: 409,
  /** The job has no such output yet (it has not succeeded). */
  output_not_ready: 409,
  /** A file cannot be deleted while a queued or running job or a lineage version uses it (details name them). */
  file_in_use: 409,
  /** A queued or running job cannot be deleted; cancel it first. */
  job_not_finished: 409,
  /** An upload is larger than its declared size or the upload limit. */
  payload_too_large: 413,
  /** A JSON endpoint was called without `content-type: application/json`. */
  unsupported_media_type: 415,
  /** A model or dataset file fails validation (malformed safetensors, wrong names, dtypes or shapes). */
  invalid_file: 422,
  /** The models of a job cannot be fused together (family, input size or classes differ). */
  incompatible_models: 422,
  /** This API key sent more requests than its rate limit allows; retry after `Retry-After` seconds. */
  rate_limited: 429,
  internal_error: 500,
  /** The object store or queue cannot be reached; retry later. */
  service_unavailable: 503,
  /** The object store is out of space (disk full on the local folder): nothing was stored; retry once space is freed. */
  insufficient_storage: 507,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;
export const API_ERROR_CODES = Object.keys(API_ERROR_STATUS) as ApiErrorCode[];

export const ApiErrorBody = z.object({
  code: z.enum(API_ERROR_CODES as [ApiErrorCode, ...ApiErrorCode[]]),
  message: z.string(),
  details: z.record(z.string(), z.unknown()),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBody>;

export const ErrorEnvelope = z.object({ error: ApiErrorBody });
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;
