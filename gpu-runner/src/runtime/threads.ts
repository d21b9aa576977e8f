/**
 * How many threads training may use: the machine's cores unless told
 * otherwise. Runtime code (it reads the machine and the environment); the
 * engine only takes a number (TrainOptions.threads).
 */
import os from 'node:os';
import { FusionError } from '@clafusion/model-format/errors';

/** Every core this process may run on. */
export function allCores(): number {
  return Math.max(1, os.availableParallelism());
}

/**
 * A runner's training threads per job: `RUNNER_THREADS`, or else the cores
 * shared out among the `RUNNER_CONCURRENCY` jobs it runs at once (at least 1).
 */
export function runnerTrainingThreads(env: Record<string, string | undefined> = process.env): number {
  const raw = env.RUNNER_THREADS?.trim();
  if (raw === undefined || raw === '') {
    const concurrency = Number(env.RUNNER_CONCURRENCY ?? '1');
    return Math.max(1, Math.floor(allCores() / (Number.isInteger(concurrency) && concurrency > 0 ? concurrency : 1)));
  }
  const threads = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(threads) || threads < 1) {
    throw new FusionError('INVALID_ARGUMENT', `RUNNER_THREADS must be a positive integer, got ${JSON.stringify(raw)}`, { field: 'RUNNER_THREADS' });
  }
  return threads;
}

/** A training request (finetune/distill after fusion) with the thread count to train on. */
export function withThreads<R extends object>(request: R | undefined, threads: number): (R & { threads: number }) | undefined {
  return request && { ...request, threads };
}
