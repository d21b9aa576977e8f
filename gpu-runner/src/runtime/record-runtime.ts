/**
 * Which runtime runs the forward passes that record a CNN's calibration
 * activations: `--record-runtime onnxruntime|tfjs` on the command line, else
 * `RUNNER_RECORD_RUNTIME` in the environment, else the default: onnxruntime
 * (onnxruntime-node's CPU build) when it loads, tfjs otherwise. MLPs always
 * record on tfjs (their forward pass is a few small matMuls).
 */
import { FusionError } from '@clafusion/model-format/errors';

export const RECORD_RUNTIMES = ['onnxruntime', 'tfjs'] as const;
export type RecordRuntime = (typeof RECORD_RUNTIMES)[number];

function parse(raw: string, field: string): RecordRuntime {
  if ((RECORD_RUNTIMES as readonly string[]).includes(raw)) return raw as RecordRuntime;
  throw new FusionError('INVALID_ARGUMENT', `${field} must be ${RECORD_RUNTIMES.join(' or ')}, got ${JSON.stringify(raw)}`, { field, value: raw });
}

/** Parses `RUNNER_RECORD_RUNTIME`; undefined or empty means not set. */
export function recordRuntimeFromEnv(env: Record<string, string | undefined>): RecordRuntime | undefined {
  const raw = env.RUNNER_RECORD_RUNTIME?.trim();
  return raw === undefined || raw === '' ? undefined : parse(raw, 'RUNNER_RECORD_RUNTIME');
}

/** The flag's value, else the environment's; undefined: the default (onnxruntime when it loads, else tfjs). */
export function resolveRecordRuntime(flag: RecordRuntime | undefined, env: Record<string, string | undefined>): RecordRuntime | undefined {
  return flag ?? recordRuntimeFromEnv(env);
}
