/**
 * How many threads a fusion records activations on: `--threads N` on the
 * command line, else `RUNNER_THREADS` in the environment, else every core
 * (the CLI) or 1 (the job runner, whose slots already run jobs side by side).
 * The fused model does not depend on it (record-taps-pool.ts).
 */
import { availableParallelism } from 'node:os';
import { FusionError } from '@clafusion/model-format/errors';

/** Parses `RUNNER_THREADS`; undefined or empty means not set. */
export function threadsFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.RUNNER_THREADS?.trim();
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new FusionError('INVALID_ARGUMENT', `RUNNER_THREADS must be a positive integer, got ${JSON.stringify(raw)}`, {
      field: 'RUNNER_THREADS',
      value: raw,
    });
  }
  return n;
}

/** The thread count to use: the flag, else the environment, else `fallback` (every core by default). */
export function resolveThreads(flag: number | null | undefined, env: Record<string, string | undefined>, fallback = availableParallelism()): number {
  return flag ?? threadsFromEnv(env) ?? fallback;
}
