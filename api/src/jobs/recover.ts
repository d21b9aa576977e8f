/**
 * Reconciliation: the store is the source of truth for which jobs are
 * unfinished (`system/active-jobs/`) and which schedules are active
 * (`system/schedules/`); the queue is only how work reaches runners, and it
 * can forget. The embedded queue forgets everything on restart; Redis
 * forgets when it restarts without persistence, fails over or is flushed,
 * with or without an API restart. Reconciling puts back what the queue lost:
 *
 * - an unfinished job the queue does not hold is enqueued again (a job it
 *   holds is left alone: no duplicate, no reset of its attempts);
 * - an index entry of a job that finished is removed (its runner's cleanup
 *   was lost);
 * - a job that was started `maxRuns` times and still got lost (a job that
 *   kills its runner every time, say) is failed rather than retried forever;
 * - an active schedule the scheduler lacks is armed again, a paused one it
 *   still has is removed.
 *
 * Re-enqueueing a job whose runner still runs it (Redis restarted under a
 * running job: the runner carries on without its lock) lets a second runner
 * take it too. That is safe: the runner skips finished jobs, outputs are
 * addressed by their content (a losing run cannot overwrite what the winner
 * recorded), and every status change is appended only if the log still
 * allows it, so the job finishes exactly once (jobs/job-log.ts).
 *
 * The API runs it on start, whenever the queue's Redis connection comes back
 * after being lost, and every `intervalMs` (RECONCILE_INTERVAL_MS), which also
 * heals a flush or failover that no connection noticed.
 */
import { type JobQueue, type ObjectStore, QueueUnavailableError, type ScheduleRepeat } from '@clafusion/contract/ports';
import { type TickQueue, armStoredSchedules } from '../schedules/tick-queue.ts';
import { layout } from '@clafusion/contract/store-layout';
import { JobLog, readJson } from '@clafusion/contract/job-log';
import { isTerminal } from '@clafusion/contract/job-state';
import { type FusionQueueData, JOB_ATTEMPTS } from '@clafusion/contract/queue-data';

/**
 * Runs of one job after which a job lost from the queue is failed instead of
 * enqueued again. Each queue lifetime allows JOB_ATTEMPTS attempts plus a
 * stall recovery; twice that leaves room for a Redis restart or two under a
 * healthy job.
 */
export const DEFAULT_MAX_RUNS = 2 * (JOB_ATTEMPTS + 1);

export interface JobReconcileReport {
  /** Unfinished jobs put back on the queue. */
  requeued: number;
  /** Index entries of finished (or record-less) jobs removed. */
  cleared: number;
  /** Jobs failed because they were lost after `maxRuns` runs. */
  failed: number;
}

export interface ReconcileReport extends JobReconcileReport {
  /** Schedules armed again. */
  schedules: number;
}

export interface ReconcileJobsOptions {
  maxRuns?: number;
  /** Errors about single jobs (the pass goes on with the others). Default console.warn. */
  onError?: (error: unknown) => void;
}

const warn = (error: unknown) => console.warn('[reconcile]', error instanceof Error ? error.message : error);

/**
 * Puts every unfinished job the queue lacks back on it. Fails (and stops)
 * with QueueUnavailableError when the queue's backend cannot be reached;
 * other errors about one job are reported and the pass goes on.
 */
export async function reconcileJobs(
  store: ObjectStore,
  queue: JobQueue<FusionQueueData>,
  options: ReconcileJobsOptions = {},
): Promise<JobReconcileReport> {
  const maxRuns = options.maxRuns ?? DEFAULT_MAX_RUNS;
  const onError = options.onError ?? warn;
  const report: JobReconcileReport = { requeued: 0, cleared: 0, failed: 0 };
  let after: string | undefined;
  do {
    const page = await store.list(layout.activeJobs(), { after, limit: 1000 });
    for (const o of page.objects) {
      const jobId = o.key.slice(o.key.lastIndexOf('/') + 1);
      try {
        const outcome = await reconcileJob(store, queue, jobId, maxRuns);
        if (outcome) report[outcome]++;
      } catch (err) {
        if (err instanceof QueueUnavailableError) throw err;
        onError(new Error(`job ${jobId}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      }
    }
    after = page.next;
  } while (after);
  return report;
}

async function reconcileJob(
  store: ObjectStore,
  queue: JobQueue<FusionQueueData>,
  jobId: string,
  maxRuns: number,
): Promise<keyof JobReconcileReport | null> {
  if (await queue.has(jobId)) return null;
  const entry = await readJson<{ tenant: string }>(store, layout.activeJob(jobId));
  if (!entry) return null; // finished since it was listed
  const log = new JobLog(store, entry.tenant, jobId);
  const state = await log.state();
  if (!state || isTerminal(state.job)) {
    // Finished (its runner's cleanup was lost), or a record that never was: nothing can run it.
    await store.delete(layout.activeJob(jobId));
    return 'cleared';
  }
  if (state.job.attempts >= maxRuns) {
    const runs = state.job.attempts;
    await log.append(
      {
        type: 'failed',
        message: `the job was lost by its runners ${runs} times`,
        stage: state.job.stage,
        data: {
          error: {
            code: 'internal_error',
            message: `The service lost the job's runner ${runs} times (it may exhaust a runner's memory); create it again, and report it if it persists`,
            stage: state.job.stage,
            details: { runs },
          },
        },
      },
      (job) => !isTerminal(job),
    );
    await store.delete(layout.activeJob(jobId));
    return 'failed';
  }
  await queue.enqueue(jobId, { tenant: entry.tenant, job_id: jobId }, { attempts: JOB_ATTEMPTS });
  return 'requeued';
}

/** Arms the active schedules `ticks` lacks (or holds with another trigger) and removes the paused ones it holds. */
export async function reconcileSchedules(store: ObjectStore, ticks: TickQueue): Promise<number> {
  const armed = new Map<string, ScheduleRepeat>();
  for (const s of await ticks.listSchedules()) armed.set(s.id, s.repeat);
  return armStoredSchedules(store, ticks, armed);
}

export interface ReconcilerOptions extends ReconcileJobsOptions {
  /** Milliseconds between periodic passes; 0 for none (start and reconnects only). */
  intervalMs: number;
  /** Failed passes (Redis still away, the store unreachable). Default console.warn. */
  onPassError?: (error: unknown) => void;
  /** A pass that changed something. Default: a console.log line. */
  onReport?: (report: ReconcileReport) => void;
}

/**
 * Runs reconciliation passes, one at a time: on demand, when a queue
 * reconnects, and periodically. A pass asked for while one runs makes one
 * more pass after it (the running one may have read the store or the queue
 * before the event that asked).
 */
export class Reconciler {
  private running: Promise<ReconcileReport> | null = null;
  private queued: Promise<ReconcileReport> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly queue: JobQueue<FusionQueueData>,
    private readonly ticks: TickQueue,
    private readonly options: ReconcilerOptions,
  ) {}

  /** Listens for reconnects and starts the periodic passes. */
  start(): void {
    const onReconnect = () => {
      if (!this.closed) this.run().catch(this.passError);
    };
    this.queue.onReconnect?.(onReconnect);
    this.ticks.onReconnect?.(onReconnect);
    if (this.options.intervalMs > 0) {
      this.timer = setInterval(onReconnect, this.options.intervalMs);
      this.timer.unref();
    }
  }

  /** One pass (or the pass already queued). */
  run(): Promise<ReconcileReport> {
    if (!this.running) return this.startPass();
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.closed ? { requeued: 0, cleared: 0, failed: 0, schedules: 0 } : this.startPass();
      });
    return this.queued;
  }

  private startPass(): Promise<ReconcileReport> {
    const pass: Promise<ReconcileReport> = this.pass().finally(() => {
      if (this.running === pass) this.running = null;
    });
    this.running = pass;
    return pass;
  }

  /** Stops the periodic passes and waits for a running one. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.allSettled([this.running, this.queued]);
  }

  /** Jobs and schedules each get their turn (their queues reconnect one after the other); the first error is thrown after both. */
  private async pass(): Promise<ReconcileReport> {
    const failures: unknown[] = [];
    const jobs = await reconcileJobs(this.store, this.queue, this.options).catch((e: unknown) => {
      failures.push(e);
      return { requeued: 0, cleared: 0, failed: 0 };
    });
    const schedules = await reconcileSchedules(this.store, this.ticks).catch((e: unknown) => {
      failures.push(e);
      return 0;
    });
    const report = { ...jobs, schedules };
    if (report.requeued + report.cleared + report.failed + report.schedules > 0) {
      (this.options.onReport ?? logReport)(report);
    }
    if (failures.length > 0) throw failures[0];
    return report;
  }

  private readonly passError = (error: unknown): void => {
    (this.options.onPassError ?? warn)(error);
  };
}

function logReport(r: ReconcileReport): void {
  console.log(`[reconcile] re-enqueued ${r.requeued} unfinished job(s), cleared ${r.cleared}, failed ${r.failed}; re-armed ${r.schedules} schedule(s)`);
}
