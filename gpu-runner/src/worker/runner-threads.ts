/**
 * How many threads a runner's job may use (`RUNNER_THREADS`): read by the
 * runner's main thread at start (a bad value stops the runner at once) and by
 * each fusion thread. It lives with the worker, not in runtime/, because the
 * API process hosts the runner's main thread, which loads no runtime code.
 */
import os from 'node:os';
import { FusionError } from '@clafusion/model-format/errors';

/**
 * A runner's threads per job: `RUNNER_THREADS`, or else the cores shared out
 * among the `RUNNER_CONCURRENCY` jobs it runs at once (at least 1).
 */
export function runnerTrainingThreads(env: Record<string, string | undefined> = process.env): number {
  const raw = env.RUNNER_THREADS?.trim();
  if (raw === undefined || raw === '') {
    const concurrency = Number(env.RUNNER_CONCURRENCY ?? '1');
    const cores = Math.max(1, os.availableParallelism());
    return Math.max(1, Math.floor(cores / (Number.isInteger(concurrency) && concurrency > 0 ? concurrency : 1)));
  }
  const threads = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(threads) || threads < 1) {
    throw new FusionError('INVALID_ARGUMENT', `RUNNER_THREADS must be a positive integer, got ${JSON.stringify(raw)}`, { field: 'RUNNER_THREADS' });
  }
  return threads;
}
