/** The job runner: consumes fusion jobs from a queue, with inputs and outputs in an object store. */
import type { FusionQueueData } from '../../../api/src/jobs/queue-data.ts';
import type { JobQueue, ObjectStore, WorkerHandle } from '../../../api/src/ports/index.ts';
import { FusionRunner, type FusionRunnerOptions } from './fusion-runner.ts';

export { FusionRunner, type FusionRunnerOptions } from './fusion-runner.ts';
export { fusionOptionsFromSpec } from './spec-options.ts';

export interface RunnerOptions extends FusionRunnerOptions {
  /** Jobs this process runs at once (each in its own thread). */
  concurrency?: number;
}

export function startRunner(store: ObjectStore, queue: JobQueue<FusionQueueData>, options: RunnerOptions = {}): WorkerHandle {
  const runner = new FusionRunner(store, options);
  return queue.process(runner.handle, { concurrency: options.concurrency ?? 1 });
}
