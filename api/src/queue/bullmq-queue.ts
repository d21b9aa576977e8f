import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Queue, UnrecoverableError, Worker, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeRedis, createRedis } from './redis-client.ts';
import {
  QueueUnavailableError,
  UnrecoverableJobError,
  type JobQueue,
  type JobScheduler,
  type QueuedJob,
  type ScheduleInfo,
  type ScheduleRepeat,
  type WorkerHandle,
  type WorkerOptions,
} from '@clafusion/contract/ports';
import type { Backoff } from './backoff.ts';
import { checkJobId } from './job-id.ts';
import { validateRepeat } from './schedule.ts';

export interface BullMqQueueOptions {
  /** Queue name; every process that shares it shares the jobs. */
  name: string;
  /** `redis://host:port[/db]`. */
  redisUrl: string;
  /** BullMQ key prefix in Redis. Default `clafusion`. */
  prefix?: string;
  /** Attempts for jobs enqueued without `attempts`. Default 1. */
  defaultAttempts?: number;
  /** Wait before a failed job's next attempt. Default exponential from 1 s. */
  backoff?: Backoff;
  /**
   * How long a runner's lock on a job lasts without renewal (the worker renews
   * it every half of this while its event loop runs). A runner that dies is
   * noticed about this long after. Keep it above the longest event-loop stall
   * of a training step, or a healthy job is taken as stalled. Default 30 s.
   */
  lockDurationMs?: number;
  /** How often each worker looks for jobs whose lock expired. Default 30 s. */
  stalledIntervalMs?: number;
  /** How often a job may stall before it fails. Default 1. */
  maxStalledCount?: number;
  /**
   * How long a queue operation (enqueue, cancel, a progress heartbeat, a
   * schedule change) waits for an unreachable Redis before it fails with
   * QueueUnavailableError. While the connection is known to be down it fails
   * at once. Default 5 s.
   */
  unavailableAfterMs?: number;
  /** Where worker and connection errors go (they do not fail jobs). Default console.warn. */
  onError?: (error: Error) => void;
}

/** Every state in which a job has not been taken by a runner yet. */
const NOT_TAKEN = ['wait', 'delayed', 'prioritized', 'waiting-children'] as const;
/** How long a closing worker may take once its jobs are done (see closeWorker). */
const CLOSE_GRACE_MS = 5_000;
/** A cancel mark outlives any plausible stall recovery, then expires. */
const CANCEL_TTL_S = 24 * 3600;

/**
 * The job queue on Redis through BullMQ, for API and runners on many
 * machines. Our job id is the BullMQ job id, so enqueueing is idempotent in
 * Redis itself. Finished jobs are removed (removeOnComplete/removeOnFail), so
 * an id can run again later, as with the in-process queue.
 *
 * Cancel: a running job is stopped through a Redis pub/sub message that
 * every worker of the queue listens to, plus a cancel mark (a key with a TTL)
 * that a worker checks when it starts a job. The mark covers what the message
 * cannot: a job taken just as the message went out, or a job recovered from a
 * crashed runner. A waiting job is simply removed.
 *
 * Connections: one for the Queue (also used to publish), and per worker one
 * that BullMQ duplicates for its blocking fetch plus one subscriber.
 *
 * Redis going away: every connection is an ioredis client with
 * `maxRetriesPerRequest: null`, so it reconnects forever and BullMQ's worker
 * loop keeps retrying; worker errors (a lock that cannot be renewed, a job
 * that cannot be moved to completed because Redis lost it) go to `onError`
 * and never crash the process. Redis may come back empty, so `onReconnect`
 * tells the owner when the Queue's connection is ready again after it was
 * lost: the API then puts the unfinished jobs from the store back
 * (jobs/recover.ts). Operations fail with QueueUnavailableError instead of
 * waiting for Redis forever.
 */
export class BullMqQueue<T = unknown> implements JobQueue<T>, JobScheduler<T> {
  readonly name: string;
  private readonly queue: Queue;
  private readonly connection: Redis;
  private readonly options: BullMqQueueOptions;
  private readonly prefix: string;
  private readonly workers = new Set<{ close(): Promise<void> }>();
  private closing: Promise<void> | undefined;
  private readonly reconnectListeners = new Set<() => void>();
  /** The Queue's connection was ready once, and lost since (a 'ready' now is a reconnect). */
  private everReady = false;
  private lost = false;

  constructor(options: BullMqQueueOptions) {
    this.options = options;
    this.name = options.name;
    this.prefix = options.prefix ?? 'clafusion';
    // BullMQ needs maxRetriesPerRequest: null (its blocking commands must not time out).
    this.connection = createRedis(options.redisUrl, { maxRetriesPerRequest: null });
    this.connection.on('error', this.onError);
    this.connection.on('close', () => {
      if (!this.everReady || this.lost || this.closing) return;
      this.lost = true;
      this.onError(new Error('lost the connection to Redis; reconnecting'));
    });
    this.connection.on('ready', () => {
      const reconnected = this.lost;
      this.everReady = true;
      this.lost = false;
      if (reconnected && !this.closing) for (const listener of this.reconnectListeners) listener();
    });
    this.queue = new Queue(this.name, { connection: this.connection, prefix: this.prefix });
    this.queue.on('error', this.onError);
  }

  async enqueue(id: string, data: T, options: { attempts?: number } = {}): Promise<void> {
    this.assertOpen();
    checkJobId(id);
    const opts = { ...this.jobOptions(options.attempts), jobId: id };
    // Queue.add with an existing jobId returns the existing job and adds nothing.
    await this.available(`enqueue ${id}`, () => this.queue.add('job', data, opts));
  }

  async has(id: string): Promise<boolean> {
    checkJobId(id);
    // Finished jobs are removed at once, so any state but these is a live job.
    const state = await this.available(`look up ${id}`, () => this.queue.getJobState(id));
    return state !== 'unknown' && state !== 'completed' && state !== 'failed';
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.add(listener);
  }

  process(handler: (job: QueuedJob<T>) => Promise<void>, options: WorkerOptions = {}): WorkerHandle {
    this.assertOpen();
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    const running = new Map<string, AbortController>();
    const workerConnection = createRedis(this.options.redisUrl, { maxRetriesPerRequest: null });
    const subscriber = createRedis(this.options.redisUrl, { maxRetriesPerRequest: null });
    workerConnection.on('error', this.onError);
    subscriber.on('error', this.onError);
    subscriber.on('message', (_channel: string, id: string) => running.get(id)?.abort(new Error(`Job ${id} was canceled`)));

    const worker = new Worker<T>(
      this.name,
      async (job) => {
        const id = job.id!;
        const controller = new AbortController();
        running.set(id, controller);
        try {
          if ((await this.connection.exists(this.cancelKey(id))) === 1) controller.abort(new Error(`Job ${id} was canceled`));
          if (!controller.signal.aborted) {
            await handler({
              id,
              data: job.data,
              attempt: job.attemptsStarted,
              maxAttempts: job.opts.attempts ?? 1,
              signal: controller.signal,
              // A heartbeat must not hang the run while Redis is away.
              progress: async (value) => {
                await this.available(`progress of ${id}`, () => job.updateProgress(value));
              },
            });
          }
          if (controller.signal.aborted) throw new UnrecoverableError('canceled');
        } catch (e) {
          // A canceled job fails at once, whatever its handler threw: no retry.
          if (controller.signal.aborted) throw new UnrecoverableError('canceled');
          if (e instanceof UnrecoverableJobError) throw new UnrecoverableError(e.message);
          throw e;
        } finally {
          running.delete(id);
          if (controller.signal.aborted) await this.connection.del(this.cancelKey(id)).catch(this.onError);
        }
      },
      {
        connection: workerConnection,
        prefix: this.prefix,
        concurrency,
        autorun: false,
        lockDuration: this.options.lockDurationMs ?? 30_000,
        stalledInterval: this.options.stalledIntervalMs ?? 30_000,
        maxStalledCount: this.options.maxStalledCount ?? 1,
      },
    );
    worker.on('error', this.onError);

    // Start fetching only once the cancel channel is subscribed, so no
    // running job can miss its cancel message.
    const started = subscriber
      .subscribe(this.cancelChannel())
      .then(() => {
        void worker.run().catch(this.onError);
      })
      .catch(this.onError);

    let closing: Promise<void> | undefined;
    const handle = {
      close: () =>
        (closing ??= (async () => {
          await started;
          await this.closeWorker(worker, running);
          await Promise.all([closeRedis(subscriber), closeRedis(workerConnection)]);
          this.workers.delete(handle);
        })()),
    };
    this.workers.add(handle);
    return handle;
  }

  /**
   * `worker.close()` waits for the running jobs, then for BullMQ's blocking
   * connection to end. A connection disconnected during its reconnect backoff
   * used to never end (ioredis 6.0; redis-client.ts closes that gap), and
   * nothing else should hold a close up once our jobs are done. Should BullMQ
   * still not finish, the close goes on CLOSE_GRACE_MS after our last job
   * ended, so a runner's shutdown is never held for ever by a queue library.
   */
  private async closeWorker(worker: Worker<T>, running: ReadonlyMap<string, unknown>): Promise<void> {
    const closed = worker.close().then(
      () => true,
      (e: Error) => {
        this.onError(e);
        return true;
      },
    );
    const stop = new AbortController();
    const grace = (async () => {
      while (running.size > 0) await sleep(50, undefined, { signal: stop.signal });
      await sleep(CLOSE_GRACE_MS, undefined, { signal: stop.signal });
      return false;
    })().catch(() => true);
    const done = await Promise.race([closed, grace]);
    stop.abort();
    if (!done) this.onError(new Error(`a worker of ${this.name} did not close within ${CLOSE_GRACE_MS} ms of its last job; closing its connections`));
  }

  async cancel(id: string): Promise<void> {
    checkJobId(id);
    await this.available(`cancel ${id}`, () => this.cancelNow(id));
  }

  private async cancelNow(id: string): Promise<void> {
    const key = this.cancelKey(id);
    // Mark first: a worker that takes the job from now on sees the mark.
    await this.connection.set(key, '1', 'EX', CANCEL_TTL_S);
    const job = await Job.fromId(this.queue, id);
    if (job) {
      const state = await job.getState();
      // getState says 'waiting' where the count types say 'wait'.
      if (state === 'waiting' || (NOT_TAKEN as readonly string[]).includes(state)) {
        try {
          await job.remove();
          await this.connection.del(key);
          return;
        } catch {
          // A runner took it between getState and remove (remove refuses
          // locked jobs): stop it like any running job, below.
        }
      }
      if (state !== 'completed' && state !== 'failed') {
        await this.connection.publish(this.cancelChannel(), id);
        return;
      }
    }
    await this.connection.del(key);
  }

  async waiting(): Promise<number> {
    return this.available('count waiting jobs', () => this.queue.getJobCountByTypes(...NOT_TAKEN));
  }

  async upsertSchedule(id: string, repeat: ScheduleRepeat, data: T): Promise<void> {
    this.assertOpen();
    checkJobId(id);
    validateRepeat(repeat);
    const opts = this.jobOptions(undefined);
    await this.available(`arm schedule ${id}`, () =>
      this.queue.upsertJobScheduler(
        id,
        // UTC unless told otherwise, as in the in-process scheduler (BullMQ
        // would use the time zone of whichever process computes the next tick).
        'every' in repeat ? { every: repeat.every } : { pattern: repeat.pattern, tz: repeat.tz ?? 'UTC' },
        { name: 'scheduled', data, opts },
      ),
    );
  }

  async removeSchedule(id: string): Promise<boolean> {
    return this.available(`remove schedule ${id}`, () => this.queue.removeJobScheduler(id));
  }

  async listSchedules(): Promise<ScheduleInfo<T>[]> {
    const schedulers = await this.available('list schedules', () => this.queue.getJobSchedulers(0, -1, true));
    return schedulers.map((s) => ({
      id: s.key,
      repeat: s.every !== undefined && s.every !== null ? { every: Number(s.every) } : { pattern: s.pattern!, tz: s.tz },
      data: s.template?.data as T,
      next: s.next !== undefined ? new Date(s.next) : undefined,
    }));
  }

  /** Closes every worker of this instance (waiting for their running jobs), then the queue. */
  async close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.workers].map((w) => w.close()));
      await this.queue.close();
      await closeRedis(this.connection);
    })();
    return this.closing;
  }

  private jobOptions(attempts: number | undefined): JobsOptions {
    const n = attempts ?? this.options.defaultAttempts ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`attempts must be a positive integer, got ${n}`);
    const backoff = this.options.backoff ?? { type: 'exponential', delayMs: 1000 };
    return {
      attempts: n,
      backoff: { type: backoff.type, delay: backoff.delayMs },
      // Job records live in the object store; Redis keeps only live jobs.
      removeOnComplete: true,
      removeOnFail: true,
    };
  }

  /**
   * Runs a Redis operation unless Redis is known to be unreachable, and gives
   * up waiting for it after `unavailableAfterMs` (ioredis would hold the
   * command until a reconnect, however long that takes). An operation given
   * up on may still run once Redis is back; every one used here may.
   */
  private async available<R>(what: string, operation: () => Promise<R>): Promise<R> {
    if (this.lost) throw new QueueUnavailableError(`Redis is unreachable (queue ${this.name}): could not ${what}`);
    const limit = this.options.unavailableAfterMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const pending = operation();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QueueUnavailableError(`Redis did not answer within ${limit} ms (queue ${this.name}): could not ${what}`)), limit);
    });
    try {
      return await Promise.race([pending, timeout]);
    } catch (err) {
      // ioredis' own verdict on a dead connection, in our terms.
      if (!(err instanceof QueueUnavailableError) && this.lost) {
        throw new QueueUnavailableError(`Redis is unreachable (queue ${this.name}): could not ${what}`, { cause: err });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      pending.catch(() => undefined);
    }
  }

  private cancelKey(id: string): string {
    return `${this.prefix}:${this.name}:cancel:${id}`;
  }

  private cancelChannel(): string {
    return `${this.prefix}:${this.name}:cancel`;
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('The queue is closed');
  }

  /** When each message was last logged (by the default onError). */
  private readonly logged = new Map<string, number>();

  private readonly onError = (error: Error): void => {
    if (this.options.onError) return this.options.onError(error);
    // While Redis is away every connection fails each reconnect and every
    // running job its lock renewal: log each message once per 30 s.
    const now = Date.now();
    const last = this.logged.get(error.message);
    if (last !== undefined && now - last < 30_000) return;
    if (this.logged.size > 100) for (const [message, at] of this.logged) if (now - at >= 30_000) this.logged.delete(message);
    this.logged.set(error.message, now);
    console.warn(`[queue ${this.name}]`, error.message);
  };
}
