/** The job runner: consumes fusion jobs from a queue, with inputs and outputs in an object store. */
import type { FusionQueueData } from '@clafusion/contract/queue-data';
import type { JobQueue, ObjectStore, WorkerHandle } from '@clafusion/contract/ports';
import { FusionRunner, type FusionRunnerOptions } from './fusion-runner.ts';
import { runnerTrainingThreads } from './runner-threads.ts';
import { recordRuntimeFromEnv } from '../runtime/record-runtime.ts';
import { reserveFusionThreads } from './run-in-thread.ts';

export { FusionRunner, type FusionRunnerOptions } from './fusion-runner.ts';
export { fusionOptionsFromSpec } from './spec-options.ts';

export interface RunnerOptions extends FusionRunnerOptions {
  /** Jobs this process runs at once (each in its own thread, kept warm between jobs). */
  concurrency?: number;
}

export function startRunner(store: ObjectStore, queue: JobQueue<FusionQueueData>, options: RunnerOptions = {}): WorkerHandle {
  // A bad RUNNER_THREADS or RUNNER_RECORD_RUNTIME stops the runner here rather than failing its first job.
  runnerTrainingThreads();
  recordRuntimeFromEnv(process.env);
  const runner = new FusionRunner(store, options);
  const concurrency = options.concurrency ?? 1;
  // One warm fusion thread per slot, started now and kept across jobs (run-in-thread.ts).
  const releaseThreads = reserveFusionThreads(concurrency);
  const worker = queue.process(runner.handle, { concurrency });
  const close = worker.close.bind(worker);
  worker.close = async () => {
    try {
      await close();
    } finally {
      releaseThreads();
    }
  };
  return worker;
}
