/**
 * How many threads training may use: the machine's cores unless told
 * otherwise. Runtime code (it reads the machine and the environment); the
 * engine only takes a number (TrainOptions.threads).
 */
import os from 'node:os';

/** Every core this process may run on. */
export function allCores(): number {
  return Math.max(1, os.availableParallelism());
}

/** A training request (finetune/distill after fusion) with the thread count to train on. */
export function withThreads<R extends object>(request: R | undefined, threads: number): (R & { threads: number }) | undefined {
  return request && { ...request, threads };
}
