import {
  UnrecoverableJobError,
  type JobQueue,
  type JobScheduler,
  type QueuedJob,
  type ScheduleInfo,
  type ScheduleRepeat,
  type WorkerHandle,
  type WorkerOptions,
} from '@clafusion/contract/ports';
import { backoffDelay, type Backoff } from './backoff.ts';
import { checkJobId } from './job-id.ts';
import { nextTick, scheduledJobId, validateRepeat } from './schedule.ts';

export interface InProcessQueueOptions {
  /** Attempts for jobs enqueued without `attempts`. Default 1 (no retry). */
  defaultAttempts?: number;
  /** Wait before a failed job's next attempt. Default exponential from 1 s. */
  backoff?: Backoff;
}

type Handler<T> = (job: QueuedJob<T>) => Promise<void>;

interface Entry<T> {
  id: string;
  data: T;
  attempts: number;
  /** Attempts started so far. */
  started: number;
  state: 'waiting' | 'delayed' | 'running';
  canceled: boolean;
  controller: AbortController;
  retryTimer?: NodeJS.Timeout;
}

interface LocalWorker<T> {
  handler: Handler<T>;
  concurrency: number;
  running: Set<Promise<void>>;
  closing: boolean;
}

interface Schedule<T> {
  repeat: ScheduleRepeat;
  data: T;
  next: number;
  timer?: NodeJS.Timeout;
}

/** setTimeout's longest delay; longer waits are done in several hops. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The embedded job queue: jobs live in this process's memory and run in this
 * process (the in-process runner). FIFO; `process()` may be called more than
 * once, each worker with its own concurrency. Nothing survives a restart: the
 * job records in the object store are the source of truth, and the service
 * re-enqueues queued jobs when it starts.
 */
export class InProcessQueue<T = unknown> implements JobQueue<T>, JobScheduler<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly fifo: string[] = [];
  private readonly workers = new Set<LocalWorker<T>>();
  private readonly schedules = new Map<string, Schedule<T>>();
  private readonly defaultAttempts: number;
  private readonly backoff: Backoff;
  private closed = false;

  constructor(options: InProcessQueueOptions = {}) {
    this.defaultAttempts = options.defaultAttempts ?? 1;
    checkAttempts(this.defaultAttempts);
    this.backoff = options.backoff ?? { type: 'exponential', delayMs: 1000 };
  }

  async enqueue(id: string, data: T, options: { attempts?: number } = {}): Promise<void> {
    this.assertOpen();
    checkJobId(id);
    this.add(id, data, options.attempts ?? this.defaultAttempts);
  }

  private add(id: string, data: T, attempts: number): void {
    checkAttempts(attempts);
    if (this.entries.has(id)) return;
    this.entries.set(id, { id, data, attempts, started: 0, state: 'waiting', canceled: false, controller: new AbortController() });
    this.fifo.push(id);
    this.pump();
  }

  process(handler: Handler<T>, options: WorkerOptions = {}): WorkerHandle {
    this.assertOpen();
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    const worker: LocalWorker<T> = { handler, concurrency, running: new Set(), closing: false };
    this.workers.add(worker);
    // Let process() return before the first job starts, like a real queue.
    queueMicrotask(() => this.pump());
    let closing: Promise<void> | undefined;
    return { close: () => (closing ??= this.closeWorker(worker)) };
  }

  async cancel(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (entry.state === 'running') {
      entry.canceled = true;
      entry.controller.abort(new Error(`Job ${id} was canceled`));
      return;
    }
    clearTimeout(entry.retryTimer);
    const at = this.fifo.indexOf(id);
    if (at >= 0) this.fifo.splice(at, 1);
    this.entries.delete(id);
  }

  async waiting(): Promise<number> {
    let n = 0;
    for (const entry of this.entries.values()) if (entry.state !== 'running') n++;
    return n;
  }

  async has(id: string): Promise<boolean> {
    return this.entries.has(id);
  }

  /** Stops the schedules and every worker (waiting for running jobs); waiting jobs are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    for (const schedule of this.schedules.values()) clearTimeout(schedule.timer);
    this.schedules.clear();
    await Promise.all([...this.workers].map((w) => this.closeWorker(w)));
    for (const entry of this.entries.values()) clearTimeout(entry.retryTimer);
    this.entries.clear();
    this.fifo.length = 0;
  }

  async upsertSchedule(id: string, repeat: ScheduleRepeat, data: T): Promise<void> {
    this.assertOpen();
    checkJobId(id);
    validateRepeat(repeat);
    clearTimeout(this.schedules.get(id)?.timer);
    const schedule: Schedule<T> = { repeat, data, next: nextTick(repeat, Date.now()) };
    this.schedules.set(id, schedule);
    this.arm(id, schedule);
  }

  async removeSchedule(id: string): Promise<boolean> {
    const schedule = this.schedules.get(id);
    if (!schedule) return false;
    clearTimeout(schedule.timer);
    this.schedules.delete(id);
    return true;
  }

  async listSchedules(): Promise<ScheduleInfo<T>[]> {
    return [...this.schedules].map(([id, s]) => ({ id, repeat: s.repeat, data: s.data, next: new Date(s.next) }));
  }

  private arm(id: string, schedule: Schedule<T>): void {
    const wait = schedule.next - Date.now();
    schedule.timer = setTimeout(
      () => {
        if (this.schedules.get(id) !== schedule) return;
        if (Date.now() < schedule.next) return this.arm(id, schedule);
        if (!this.closed) this.add(scheduledJobId(id, schedule.next), schedule.data, this.defaultAttempts);
        schedule.next = nextTick(schedule.repeat, Math.max(Date.now(), schedule.next));
        this.arm(id, schedule);
      },
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
  }

  private pump(): void {
    for (const worker of this.workers) {
      while (!worker.closing && worker.running.size < worker.concurrency && this.fifo.length > 0) {
        const entry = this.entries.get(this.fifo.shift()!)!;
        this.start(worker, entry);
      }
    }
  }

  private start(worker: LocalWorker<T>, entry: Entry<T>): void {
    entry.state = 'running';
    entry.started += 1;
    const job: QueuedJob<T> = {
      id: entry.id,
      data: entry.data,
      attempt: entry.started,
      maxAttempts: entry.attempts,
      signal: entry.controller.signal,
      // Nobody outside the handler watches in-process progress; the worker
      // writes user-visible progress to the job's event log itself.
      progress: async () => undefined,
    };
    const run: Promise<void> = (async () => worker.handler(job))().then(
      () => this.finish(entry),
      (error: unknown) => this.failed(entry, error),
    );
    const tracked = run.finally(() => {
      worker.running.delete(tracked);
      this.pump();
    });
    worker.running.add(tracked);
  }

  private finish(entry: Entry<T>): void {
    if (this.entries.get(entry.id) === entry) this.entries.delete(entry.id);
  }

  private failed(entry: Entry<T>, error: unknown): void {
    const retry = !entry.canceled && !this.closed && !(error instanceof UnrecoverableJobError) && entry.started < entry.attempts;
    if (!retry) return this.finish(entry);
    entry.state = 'delayed';
    entry.retryTimer = setTimeout(() => {
      if (this.entries.get(entry.id) !== entry) return;
      entry.state = 'waiting';
      this.fifo.push(entry.id);
      this.pump();
    }, backoffDelay(this.backoff, entry.started));
  }

  private async closeWorker(worker: LocalWorker<T>): Promise<void> {
    worker.closing = true;
    while (worker.running.size > 0) await Promise.allSettled([...worker.running]);
    this.workers.delete(worker);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('The queue is closed');
  }
}

function checkAttempts(attempts: number): void {
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`attempts must be a positive integer, got ${attempts}`);
}
