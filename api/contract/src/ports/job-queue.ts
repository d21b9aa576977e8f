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
  /**
   * How many attempts a failure may use (the `attempts` it was enqueued with).
   * `attempt >= maxAttempts` means a thrown error is final, so a worker knows
   * when to record `failed`. Both adapters set it. (A stall recovery starts
   * another attempt without using one up, so `attempt` can exceed it.)
   */
  maxAttempts?: number;
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

/**
 * The queue's backend (Redis) cannot be reached right now. Callers whose
 * work is also recorded in the store (a job's record, its entry in the
 * active-jobs index) may go on without the queue: reconciliation puts the
 * job on the queue once it is back (jobs/recover.ts).
 */
export class QueueUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueUnavailableError';
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
  /**
   * Enqueues a job; enqueuing an id that is already queued or running does
   * nothing. Finished jobs (succeeded, failed or canceled) are forgotten, so
   * their id can be enqueued again: deduplication across time belongs to the
   * job records, not to the queue.
   */
  enqueue(id: string, data: T, options?: { attempts?: number }): Promise<void>;
  /** Starts consuming jobs with `handler`. Resolves/rejects = succeeded/failed. */
  process(handler: (job: QueuedJob<T>) => Promise<void>, options?: WorkerOptions): WorkerHandle;
  /** Asks the runner of a job to stop (its signal aborts) or removes it if still waiting. */
  cancel(id: string): Promise<void>;
  /** Number of jobs waiting (not yet taken). */
  waiting(): Promise<number>;
  /** Whether the queue holds the job now: waiting, delayed for a retry, or running. */
  has(id: string): Promise<boolean>;
  /**
   * Calls `listener` whenever the queue's backend is reachable again after
   * its connection was lost (it may have come back empty: a Redis restarted
   * without persistence, a failover, a flush). Queues that cannot lose their
   * jobs while the process lives leave it out.
   */
  onReconnect?(listener: () => void): void;
  close(): Promise<void>;
}

/**
 * When a schedule fires: a cron pattern (5 fields, or 6 with seconds first)
 * in a time zone (IANA name, default UTC), or every `every` milliseconds.
 */
export type ScheduleRepeat = { pattern: string; tz?: string } | { every: number };

export interface ScheduleInfo<T = unknown> {
  id: string;
  repeat: ScheduleRepeat;
  data: T;
  /** The next firing, when known. */
  next?: Date;
}

/**
 * Schedules that enqueue a job at each tick (scheduled fusion). Each tick
 * enqueues exactly one job, across all processes sharing the queue, with the
 * id `repeat:<scheduleId>:<tick time in ms>` and the schedule's data.
 */
export interface JobScheduler<T = unknown> {
  /** Creates or replaces the schedule `id` (idempotent: same id, one schedule). */
  upsertSchedule(id: string, repeat: ScheduleRepeat, data: T): Promise<void>;
  /** Removes a schedule; false if there was none. Jobs already enqueued stay. */
  removeSchedule(id: string): Promise<boolean>;
  listSchedules(): Promise<ScheduleInfo<T>[]>;
}
