/**
 * Documented limits. The API enforces them with `limit_exceeded` (400) or
 * `payload_too_large` (413); the README lists them. Deployments may lower or
 * raise the upload size with `MAX_UPLOAD_BYTES`; the others are fixed.
 */
export const LIMITS = {
  /** Largest file upload (model or dataset), in bytes: 512 MiB. */
  maxUploadBytes: 512 * 1024 * 1024,
  /** Input models per fusion job. */
  maxModelsPerJob: 8,
  /** Calibration samples recorded through every model. */
  maxCalibrationSamples: 10_000,
  /** Page size of list endpoints. */
  maxPageSize: 100,
  defaultPageSize: 20,
  /** Length of an Idempotency-Key header. */
  maxIdempotencyKeyLength: 255,
} as const;
