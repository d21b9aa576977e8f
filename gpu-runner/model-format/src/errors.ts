/**
 * The one error type the engine and the file readers throw.
 *
 * `code` is stable (callers branch on it, the API maps it to an HTTP status),
 * `message` is written for a person, and `details` names the thing at fault
 * (a tensor, a field, a layer) so the message can be acted on.
 */
export type FusionErrorCode =
  | 'INVALID_ARCH' // the architecture description itself is wrong
  | 'SHAPE_MISMATCH' // a tensor's shape disagrees with the architecture
  | 'MISSING_TENSOR' // a tensor the architecture needs is absent
  | 'UNEXPECTED_TENSOR' // a tensor the architecture does not know
  | 'NON_FINITE' // NaN or Inf in weights or data
  | 'MALFORMED_FILE' // a file that cannot be parsed (truncated, bad header, …)
  | 'UNSUPPORTED' // valid input the engine does not handle (e.g. dtype)
  | 'INCOMPATIBLE_MODELS' // the models cannot be fused together
  | 'INVALID_ARGUMENT' // an option or argument out of range
  | 'SOLVER_FAILED'; // a numerical solver did not reach its optimum

export class FusionError extends Error {
  readonly code: FusionErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: FusionErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'FusionError';
    this.code = code;
    this.details = details;
  }
}

export function isFusionError(e: unknown): e is FusionError {
  return e instanceof FusionError;
}
