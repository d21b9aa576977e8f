/**
 * Turns schedule ticks into fusion jobs (the tick queue's handler, run by
 * API instances). One tick, one job, however often the tick is delivered:
 *
 * - the run record is keyed by the tick and created only once; a duplicate
 *   delivery reads it back and goes on with what the first one resolved;
 * - the job is created with the Idempotency-Key `schedule:<id>:<tick>` and
 *   the run's stored spec, so every delivery gets the same job;
 * - publishing the fused model is once per job (LineageService.publishOnce).
 *
 * The handler then follows its job to the end and publishes the result. If
 * the instance goes away meanwhile, BullMQ hands the tick to another
 * instance (stall recovery), which picks up the same run and job; on the
 * embedded queue, the schedule's next tick, or anyone listing its runs,
 * publishes what is left unpublished.
 */
import { createHash } from 'node:crypto';
import type { Schedule } from '@clafusion/contract';
import { ApiError } from '../errors.ts';
import { canonicalJson } from '../jobs/canonical-json.ts';
import type { JobService } from '../jobs/job-service.ts';
import { readJson } from '@clafusion/contract/job-log';
import { isTerminal } from '@clafusion/contract/job-state';
import type { LineageService } from '../lineages/lineage-service.ts';
import { resolveRequest } from '../lineages/resolve-request.ts';
import type { ObjectStore, QueuedJob } from '@clafusion/contract/ports';
import { layout } from '@clafusion/contract/store-layout';
import type { RunRecord, RunStore, RunView } from './runs.ts';
import { type TickData, tickOf } from './tick-queue.ts';

/** How many earlier runs a tick looks back over (for skip_unchanged, and to publish what is left unpublished). */
const LOOK_BACK = 20;

export interface TickerOptions {
  /** How often a tick re-reads its job's state while following it. */
  pollMs: number;
  onError?: (error: unknown) => void;
}

export class ScheduleTicker {
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: ObjectStore,
    private readonly jobs: JobService,
    private readonly lineages: LineageService,
    private readonly runs: RunStore,
    private readonly options: TickerOptions,
  ) {}

  /** The tick queue's handler. */
  readonly handle = async (job: QueuedJob<TickData>): Promise<void> => {
    const { tenant, schedule_id: scheduleId } = job.data;
    const tick = tickOf(job.id);
    const schedule = await readJson<Schedule>(this.store, layout.scheduleRecord(tenant, scheduleId));
    // Deleted or paused after this tick was enqueued: the record decides.
    if (!schedule || schedule.status !== 'active') return;

    const earlier = await this.runs.list(tenant, scheduleId, tick, LOOK_BACK);
    await this.publishLeftovers(tenant, earlier.views);

    const existing = await this.runs.view(tenant, scheduleId, tick);
    const record = existing?.record ?? (await this.runs.create(tenant, await this.resolve(tenant, schedule, tick, earlier.views)));
    if (record.kind !== 'resolved') return;

    let jobId = existing?.jobId ?? null;
    if (jobId === null) {
      try {
        jobId = (await this.jobs.create(tenant, record.spec, `schedule:${scheduleId}:${tick}`)).id;
      } catch (err) {
        // The inputs cannot make a job (a file was not ready, models incompatible, …): the run fails, saying why.
        if (err instanceof ApiError && err.status < 500) {
          await this.runs.recordError(tenant, scheduleId, tick, { code: err.apiCode, message: err.message });
          return;
        }
        throw err;
      }
      await this.runs.recordJob(tenant, scheduleId, tick, jobId);
    }
    if (await this.followToEnd(tenant, jobId)) {
      const view = await this.runs.view(tenant, scheduleId, tick);
      if (view) await this.runs.publish(tenant, view);
    }
  };

  /** Stops following jobs (their runs are published later, see above) so the queue can close. */
  close(): void {
    this.stopping.abort();
  }

  /** What this tick runs, or why it runs nothing. */
  private async resolve(tenant: string, schedule: Schedule, tick: number, earlier: RunView[]): Promise<RunRecord> {
    const base = { schedule_id: schedule.id, tick, created_at: new Date().toISOString() };
    let resolved;
    try {
      resolved = await resolveRequest(this.lineages, tenant, schedule.template);
    } catch (err) {
      if (err instanceof ApiError && err.status < 500) return { ...base, kind: 'failed', models: null, error: { code: err.apiCode, message: err.message } };
      throw err;
    }
    const inputsHash = createHash('sha256').update(canonicalJson(resolved.spec)).digest('hex');
    if (schedule.skip_unchanged) {
      const last = await this.lastProductive(tenant, earlier);
      if (last && last.inputs_hash === inputsHash) {
        return { ...base, kind: 'skipped', models: resolved.models, inputs_hash: inputsHash, reason: `inputs unchanged since the run of ${new Date(last.tick).toISOString()}` };
      }
    }
    return {
      ...base,
      kind: 'resolved',
      spec: resolved.spec,
      models: resolved.models,
      inputs_hash: inputsHash,
      output_lineage: schedule.output.lineage,
      output_floor: await this.lineages.latestNumber(tenant, schedule.output.lineage),
    };
  }

  /**
   * The newest earlier run whose job succeeded or may still succeed: the
   * inputs skip_unchanged compares with (a run still in flight counts, or
   * a slow fusion would be started again on every tick).
   */
  private async lastProductive(tenant: string, earlier: RunView[]): Promise<Extract<RunRecord, { kind: 'resolved' }> | null> {
    for (const view of earlier) {
      if (view.record.kind !== 'resolved' || view.jobId === null || view.error) continue;
      const job = await this.jobs.get(tenant, view.jobId).catch(() => null);
      if (job && (job.status === 'succeeded' || !isTerminal(job))) return view.record;
    }
    return null;
  }

  private async publishLeftovers(tenant: string, views: RunView[]): Promise<void> {
    for (const view of views) {
      if (view.output || view.jobId === null || view.record.kind !== 'resolved') continue;
      try {
        const job = await this.jobs.get(tenant, view.jobId);
        if (job.status === 'succeeded') await this.runs.publish(tenant, view);
      } catch (err) {
        // One bad leftover must not stop this tick; it is tried again next time.
        this.options.onError?.(err);
      }
    }
  }

  /** Waits for the job to finish; true when it succeeded, false when it did not or the ticker is stopping. */
  private async followToEnd(tenant: string, jobId: string): Promise<boolean> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const job = await this.jobs.get(tenant, jobId);
      if (isTerminal(job)) return job.status === 'succeeded';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.options.pollMs);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return false;
  }
}
