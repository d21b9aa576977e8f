/**
 * `npm start`: the API process (api/src/main.ts) with the runner from
 * gpu-runner as its in-process runner, so RUNNERS (default 1) jobs run
 * inside it without Redis or runner processes.
 */
import { runApiProcess } from '@clafusion/api/main';
import { startRunner } from '@clafusion/gpu-runner/worker';

await runApiProcess(startRunner);
