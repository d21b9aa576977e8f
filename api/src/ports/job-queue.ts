/**
 * The job-queue port: hands fusion jobs to runners. Two adapters implement it
 * (in-process, the embedded default; BullMQ on Redis, for runners on many
 * machines), and one conformance suite runs against both.
 *
 * The queue carries only job ids and small routing data; inputs and outputs
 * live in the object store, never in Redis.
 */
export interface QueuedJob<T = unknown> {
  id: string;
  data: T;
  /** 1 on the first attempt; larger after a stalled or crashed runner's job is retried. */
  attempt: number;
  /** Aborted when the job is canceled; the handler should stop at its next step. */
  signal: AbortSignal;
  /** Reports progress to the queue (keeps the job's lock fresh on BullMQ). */
  progress(value: number): Promise<void>;
}

/** Thrown by a handler to fail a job at once, without retries (e.g. a malformed model file). */
export class UnrecoverableJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnrecoverableJobError';
  }
}

export interface WorkerHandle {
  /** Stops taking new jobs and waits for the running ones (graceful shutdown). */
  close(): Promise<void>;
}

export interface WorkerOptions {
  concurrency?: number;
}

export interface JobQueue<T = unknown> {
  /** Enqueues a job; enqueuing an id that is already queued or running does nothing. */
  enqueue(id: string, data: T, options?: { attempts?: number }): Promise<void>;
  /** Starts consuming jobs with `handler`. Resolves/rejects = succeeded/failed. */
  process(handler: (job: QueuedJob<T>) => Promise<void>, options?: WorkerOptions): WorkerHandle;
  /** Asks the runner of a job to stop (its signal aborts) or removes it if still waiting. */
  cancel(id: string): Promise<void>;
  /** Number of jobs waiting (not yet taken). */
  waiting(): Promise<number>;
  close(): Promise<void>;
}
