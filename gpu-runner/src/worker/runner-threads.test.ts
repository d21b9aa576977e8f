import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { runnerTrainingThreads } from './runner-threads.ts';
import { allCores } from '../runtime/threads.ts';

describe('runner training threads', () => {
  it('RUNNER_THREADS when set, else the cores shared among the runner slots (at least 1)', () => {
    expect(allCores()).toBe(os.availableParallelism());
    expect(runnerTrainingThreads({ RUNNER_THREADS: '3' })).toBe(3);
    expect(runnerTrainingThreads({})).toBe(allCores());
    expect(runnerTrainingThreads({ RUNNER_CONCURRENCY: String(allCores()) })).toBe(1);
    expect(runnerTrainingThreads({ RUNNER_CONCURRENCY: String(allCores() * 4) })).toBe(1);
  });

  it('refuses a RUNNER_THREADS that is not a positive integer, naming it', () => {
    for (const bad of ['0', '-2', '1.5', 'all', '2x']) {
      expect(() => runnerTrainingThreads({ RUNNER_THREADS: bad })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { field: 'RUNNER_THREADS' } }));
    }
  });
});
