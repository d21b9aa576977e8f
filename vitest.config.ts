import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages that publish built files (the sdk) resolve to their sources in tests
  // (their exports' "@clafusion/source" condition); the rest is vitest's default list.
  ssr: { resolve: { conditions: ['@clafusion/source', ...defaultServerConditions.filter((c) => c !== 'module')] } },
  test: {
    include: ['{api,sdk,gpu-runner,api/contract,gpu-runner/model-format}/src/**/*.test.ts', 'app/**/*.test.ts', '{api,sdk,gpu-runner}/test/**/*.test.ts', 'test/**/*.test.ts', 'testsupport/**/*.test.ts', 'infra/test/**/*.test.ts', 'infra/cdk/test/**/*.test.ts'],
    // Outer bounds only, generous so a loaded machine (a shared CI host,
    // `npm run test:stress`) is slow, not red; a passing test never waits on them.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // The numeric tests are CPU-bound; two workers match the two cores CI has.
    maxWorkers: 2,
    // One redis-server and one s3rver for the whole run (testsupport/global-setup.ts).
    globalSetup: ['testsupport/global-setup.ts'],
  },
});
