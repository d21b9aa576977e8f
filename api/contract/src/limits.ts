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
  /**
   * Finetuning epochs per job: above the paper's longest finetuning recipe
   * (120 epochs, Table 7), so every preset fits, while bounding how long one
   * job can hold a runner.
   */
  maxFinetuneEpochs: 200,
  /** Distillation epochs per job, bounded like finetuning (the paper's distillation recipes fit). */
  maxDistillEpochs: 200,
  /** Page size of list endpoints. */
  maxPageSize: 100,
  defaultPageSize: 20,
  /** Length of an Idempotency-Key header. */
  maxIdempotencyKeyLength: 255,
} as const;
