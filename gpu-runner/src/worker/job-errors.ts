/**
 * What a failed job tells its user. Engine errors are deterministic (the
 * same inputs fail the same way), so they fail the job at once with a code
 * that says what to fix; anything else is the service's fault and is retried.
 */
import type { JobError, JobStage } from '@clafusion/contract';
import { type FusionErrorCode, FusionError } from '@clafusion/model-format/errors';
import { FUSION_OPTIONS } from '@clafusion/contract/options';
import { inOptionTerms } from '../engine/fusion/options.ts';

const JOB_CODE: Record<FusionErrorCode, JobError['code']> = {
  INVALID_ARCH: 'invalid_input',
  SHAPE_MISMATCH: 'invalid_input',
  MISSING_TENSOR: 'invalid_input',
  UNEXPECTED_TENSOR: 'invalid_input',
  NON_FINITE: 'invalid_input',
  MALFORMED_FILE: 'invalid_input',
  UNSUPPORTED: 'invalid_input',
  INCOMPATIBLE_MODELS: 'incompatible_models',
  INVALID_ARGUMENT: 'invalid_options',
  SOLVER_FAILED: 'solver_failed',
};

const HINT: Partial<Record<JobError['code'], string>> = {
  solver_failed: ' (try fusion.solver {"kind":"exact"}, or a larger sinkhorn reg)',
};

export function jobErrorFromFusionError(err: FusionError, stage: JobStage | null): JobError {
  const code = JOB_CODE[err.code];
  return { code, message: `${err.message}${HINT[code] ?? ''}`, stage, details: { engine_code: err.code, ...err.details } };
}

export function internalJobError(stage: JobStage | null, attempts: number): JobError {
  return {
    code: 'internal_error',
    message: `The service failed to run the job after ${attempts} attempt${attempts === 1 ? '' : 's'}; create it again, and report it if it persists`,
    stage,
    details: {},
  };
}

/** A FusionError after a trip through postMessage (structured clone keeps only plain fields). */
export interface SerializedFusionError {
  name: 'FusionError';
  code: FusionErrorCode;
  message: string;
  details: Record<string, unknown>;
}

/** A FusionError as it crosses from the fusion thread; an option field its message starts with is named as the API names it (`calibration.samples`). */
export function serializeFusionError(err: FusionError): SerializedFusionError {
  return { name: 'FusionError', code: err.code, message: inOptionTerms(err, (field, value) => FUSION_OPTIONS[field].api + (value === undefined ? '' : `=${value}`)), details: err.details };
}

export function deserializeFusionError(e: SerializedFusionError): FusionError {
  return new FusionError(e.code, e.message, e.details);
}
