import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{api,sdk,gpu-runner}/src/**/*.test.ts', '{api,sdk,gpu-runner}/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The numeric tests are CPU-bound; two workers match the two cores CI has.
    maxWorkers: 2,
  },
});
