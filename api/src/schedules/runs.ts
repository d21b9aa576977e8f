/**
 * A schedule's runs in the store. Each tick writes one run record
 * (create-only, keyed by the tick, so a duplicated tick finds the record
 * the first one wrote and follows it), holding what the tick resolved: the
 * fusion spec with file ids, or why it was skipped or could not resolve.
 * Later facts (the job made for it, the version it published, why no job
 * could be made) are separate create-only objects, each written once.
 *
 * A run's outcome is read, not stored: skipped/failed from the record, or
 * the status of its job, so it is never stale.
 */
import type { FusionSpec, ListPage, ModelVersion, ScheduleRun } from '@clafusion/contract';
import type { FileService } from '../files/file-service.ts';
import type { JobService } from '../jobs/job-service.ts';
import { readJson } from '@clafusion/contract/job-log';
import { type LineageService, putIfAbsent } from '../lineages/lineage-service.ts';
import type { ResolvedModel } from '../lineages/resolve-request.ts';
import type { ObjectStore } from '@clafusion/contract/ports';
import { layout, tickFromRunKey } from '@clafusion/contract/store-layout';

interface RunBase {
  schedule_id: string;
  tick: number;
  created_at: string;
}

export type RunRecord =
  | (RunBase & {
      kind: 'resolved';
      spec: FusionSpec;
      models: ResolvedModel[];
      /** Hash of the resolved spec: equal hashes mean the same inputs and options. */
      inputs_hash: string;
      output_lineage: string;
      /** The output lineage's newest version when the run was made (its publication is above it). */
      output_floor: number;
    })
  | (RunBase & { kind: 'skipped'; models: ResolvedModel[]; inputs_hash: string; reason: string })
  | (RunBase & { kind: 'failed'; models: null; error: { code: string; message: string } });

export interface RunView {
  record: RunRecord;
  jobId: string | null;
  output: { lineage: string; version: number } | null;
  error: { code: string; message: string } | null;
}

export class RunStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly jobs: JobService,
    private readonly files: FileService,
    private readonly lineages: LineageService,
  ) {}

  /** Writes the run record unless one exists; returns the record that is stored either way. */
  async create(tenant: string, record: RunRecord): Promise<RunRecord> {
    const key = layout.scheduleRun(tenant, record.schedule_id, record.tick);
    if (await putIfAbsent(this.store, key, record)) return record;
    return (await readJson<RunRecord>(this.store, key))!;
  }

  async view(tenant: string, scheduleId: string, tick: number): Promise<RunView | null> {
    const record = await readJson<RunRecord>(this.store, layout.scheduleRun(tenant, scheduleId, tick));
    if (!record) return null;
    const fact = <T>(name: 'job' | 'output' | 'error') => readJson<T>(this.store, layout.scheduleRunFact(tenant, scheduleId, name, tick));
    const [job, output, error] = await Promise.all([
      fact<{ job_id: string }>('job'),
      fact<{ lineage: string; version: number }>('output'),
      fact<{ code: string; message: string }>('error'),
    ]);
    return { record, jobId: job?.job_id ?? null, output, error };
  }

  /** Newest first; `after` is a run id (tick). */
  async list(tenant: string, scheduleId: string, after: number | undefined, limit: number): Promise<{ views: RunView[]; hasMore: boolean }> {
    const page = await this.store.list(layout.scheduleRuns(tenant, scheduleId), {
      after: after !== undefined ? layout.scheduleRun(tenant, scheduleId, after) : undefined,
      limit: limit + 1,
    });
    const ticks = page.objects.map((o) => tickFromRunKey(o.key));
    const views = await Promise.all(ticks.slice(0, limit).map((t) => this.view(tenant, scheduleId, t)));
    return { views: views.filter((v): v is RunView => v !== null), hasMore: ticks.length > limit };
  }

  recordJob(tenant: string, scheduleId: string, tick: number, jobId: string): Promise<boolean> {
    return putIfAbsent(this.store, layout.scheduleRunFact(tenant, scheduleId, 'job', tick), { job_id: jobId });
  }

  recordError(tenant: string, scheduleId: string, tick: number, error: { code: string; message: string }): Promise<boolean> {
    return putIfAbsent(this.store, layout.scheduleRunFact(tenant, scheduleId, 'error', tick), error);
  }

  /**
   * Publishes a succeeded run's fused model as the next version of its
   * output lineage, once (see LineageService.publishOnce), and records it.
   * Safe to call from any number of places at once.
   */
  async publish(tenant: string, view: RunView): Promise<{ lineage: string; version: number } | null> {
    const record = view.record;
    if (view.output || record.kind !== 'resolved' || view.jobId === null) return view.output;
    const jobId = view.jobId;
    const version: ModelVersion = await this.lineages.publishOnce(
      tenant,
      record.output_lineage,
      { type: 'schedule', schedule_id: record.schedule_id, tick_at: new Date(record.tick).toISOString(), job_id: jobId },
      record.output_floor,
      () => this.importFused(tenant, jobId, record.output_lineage),
    );
    const output = { lineage: version.lineage, version: version.version };
    await putIfAbsent(this.store, layout.scheduleRunFact(tenant, record.schedule_id, 'output', record.tick), output);
    return output;
  }

  /** The public run, with the job's current status as its outcome; a succeeded run not yet published is published now. */
  async toPublic(tenant: string, view: RunView): Promise<ScheduleRun> {
    const { record } = view;
    const base = {
      id: String(record.tick),
      object: 'schedule.run' as const,
      schedule_id: record.schedule_id,
      tick_at: new Date(record.tick).toISOString(),
      job_id: view.jobId,
      models: record.models,
      output: view.output,
      created_at: record.created_at,
    };
    if (record.kind === 'failed') return { ...base, outcome: 'failed', error: record.error };
    if (record.kind === 'skipped') return { ...base, outcome: 'skipped', error: null };
    if (view.error) return { ...base, outcome: 'failed', error: view.error };
    if (view.jobId === null) return { ...base, outcome: 'pending', error: null };
    const job = await this.jobs.get(tenant, view.jobId);
    const output = job.status === 'succeeded' ? await this.publish(tenant, view) : null;
    return {
      ...base,
      outcome: job.status,
      output,
      error: job.error ? { code: job.error.code, message: job.error.message } : null,
    };
  }

  /** Copies a job's fused model into a new model file (lineage versions are files, usable anywhere a file id is). */
  private async importFused(tenant: string, jobId: string, lineage: string) {
    const key = await this.jobs.succeededWith(tenant, jobId, 'fused.safetensors');
    const info = await this.store.head(key);
    if (!info) throw new Error(`fusion ${jobId} succeeded but its fused model is missing from the store`);
    const { file } = await this.files.create(tenant, { name: `${lineage}-${jobId}.safetensors`, purpose: 'model', size: info.size }, '');
    await this.store.put(layout.fileContent(tenant, file.id), await this.store.get(key), { contentType: 'application/octet-stream' });
    return this.files.complete(tenant, file.id);
  }
}

export function toListPage(runs: ScheduleRun[], hasMore: boolean): ListPage<ScheduleRun> {
  return { object: 'list', data: runs, has_more: hasMore, next_after: hasMore && runs.length > 0 ? runs[runs.length - 1].id : null };
}
