/** client.fusions: create (idempotently), wait, list, cancel, events, outputs. */
import { streamEvents } from '../core/events.ts';
import { JobFailedError } from '../core/errors.ts';
import type { HttpClient } from '../core/http.ts';
import { PagedList } from '../core/pagination.ts';
import type { DeletedFusion, DownloadLink, FusionJob, FusionRequest, JobEvent, JobOutput, JobStatus, ListPage, OutputName } from '../core/types.ts';
import { downloadBytes, downloadToPath } from './files.ts';

export interface CreateOptions {
  /** Makes the create safe to repeat; one is generated when absent, and every retry reuses it. */
  idempotencyKey?: string;
}

export interface WaitOptions extends CreateOptions {
  /** Called on every event with the job's status, stage and progress so far. */
  onProgress?: (update: { status: FusionJob['status']; stage: FusionJob['stage']; progress: number; event: JobEvent }) => void;
  signal?: AbortSignal;
}

export class Fusions {
  constructor(private readonly http: HttpClient) {}

  create(spec: FusionRequest, options: CreateOptions = {}): Promise<FusionJob> {
    return this.http.json({
      method: 'POST',
      path: '/v1/fusions',
      json: spec,
      idempotencyKey: options.idempotencyKey ?? this.http.newIdempotencyKey(),
    });
  }

  retrieve(id: string): Promise<FusionJob> {
    return this.http.json({ method: 'GET', path: `/v1/fusions/${encodeURIComponent(id)}` });
  }

  /** Newest first (only jobs in `status` when given); await it for one page or iterate it for all jobs. */
  list(params: { limit?: number; status?: JobStatus } = {}): PagedList<FusionJob> {
    return new PagedList((after) =>
      this.http.json<ListPage<FusionJob>>({ method: 'GET', path: '/v1/fusions', query: { limit: params.limit, status: params.status, after } }),
    );
  }

  /** Deletes a finished job with its events and outputs; a ConflictError (job_not_finished) while it is queued or running. */
  delete(id: string): Promise<DeletedFusion> {
    return this.http.json({ method: 'DELETE', path: `/v1/fusions/${encodeURIComponent(id)}` });
  }

  cancel(id: string): Promise<FusionJob> {
    return this.http.json({ method: 'POST', path: `/v1/fusions/${encodeURIComponent(id)}/cancel`, json: {} });
  }

  /** Events in order; `after` = the last event id already seen. */
  events(id: string, params: { after?: string; limit?: number } = {}): PagedList<JobEvent> {
    return new PagedList((after) =>
      this.http.json<ListPage<JobEvent>>({
        method: 'GET',
        path: `/v1/fusions/${encodeURIComponent(id)}/events`,
        query: { after: after ?? params.after, limit: params.limit },
      }),
    );
  }

  /** Live events until the job finishes; resumes by itself after dropped connections. */
  stream(id: string, options: { after?: string; signal?: AbortSignal } = {}): AsyncGenerator<JobEvent> {
    return streamEvents(this.http, id, options.after, options.signal);
  }

  /** Creates a job and resolves when it succeeds; throws JobFailedError if it fails or is canceled. */
  async createAndWait(spec: FusionRequest, options: WaitOptions = {}): Promise<FusionJob> {
    const created = await this.create(spec, options);
    let progress = created.progress;
    let stage = created.stage;
    let status = created.status;
    for await (const event of this.stream(created.id, { signal: options.signal })) {
      if (event.progress !== null) progress = Math.max(progress, event.progress);
      if (event.stage !== null) stage = event.stage;
      if (event.type === 'running') status = 'running';
      if (event.type === 'succeeded' || event.type === 'failed' || event.type === 'canceled') status = event.type;
      options.onProgress?.({ status, stage, progress, event });
    }
    const job = await this.retrieve(created.id);
    if (job.status !== 'succeeded') throw new JobFailedError(job);
    return job;
  }

  async outputs(id: string): Promise<(JobOutput & { download: DownloadLink })[]> {
    const list = await this.http.json<{ data: (JobOutput & { download: DownloadLink })[] }>({
      method: 'GET',
      path: `/v1/fusions/${encodeURIComponent(id)}/outputs`,
    });
    return list.data;
  }

  outputLink(id: string, name: OutputName): Promise<DownloadLink> {
    return this.http.json({ method: 'GET', path: `/v1/fusions/${encodeURIComponent(id)}/outputs/${name}` });
  }

  /** An output's bytes (fused.safetensors, report.json, report.html; fused.pt and fused.onnx when the spec's `outputs` asked for them). */
  async download(id: string, name: OutputName): Promise<Uint8Array> {
    return downloadBytes(this.http, await this.outputLink(id, name));
  }

  async downloadTo(id: string, name: OutputName, path: string): Promise<void> {
    await downloadToPath(this.http, await this.outputLink(id, name), path);
  }

  /** The parsed report.json. */
  async report(id: string): Promise<Record<string, unknown>> {
    return JSON.parse(new TextDecoder().decode(await this.download(id, 'report.json'))) as Record<string, unknown>;
  }
}
