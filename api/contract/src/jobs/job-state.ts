/**
 * A job's state is the fold of its event log over its creation record. The
 * log is the source of truth: the API and runners only ever append to it, so
 * every reader (a GET, an SSE stream, a runner picking the job up again)
 * computes the same state from the same events.
 *
 * The first terminal event wins; anything after it is ignored. That is what
 * makes the final transition idempotent: a runner that finishes a job another
 * runner already finished appends nothing (see JobLog.append), and even if
 * two raced, readers would all agree on the first.
 */
import {
  type FusionJob,
  type FusionSpec,
  type JobError,
  type JobEvent,
  type JobMetrics,
  type JobOutput,
  TERMINAL_STATUSES,
} from '../index.ts';

/** Written once when the job is created; never changes. */
export interface JobRecord {
  id: string;
  tenant: string;
  created_at: string;
  spec: FusionSpec;
  inputs: FusionJob['inputs'];
}

export function isTerminal(job: Pick<FusionJob, 'status'>): boolean {
  return TERMINAL_STATUSES.includes(job.status);
}

export function initialJob(record: JobRecord): FusionJob {
  return {
    id: record.id,
    object: 'fusion',
    status: 'queued',
    stage: null,
    progress: 0,
    created_at: record.created_at,
    started_at: null,
    finished_at: null,
    attempts: 0,
    cancel_requested: false,
    error: null,
    spec: record.spec,
    inputs: record.inputs,
    outputs: [],
    metrics: null,
  };
}

export function applyEvent(job: FusionJob, event: JobEvent): FusionJob {
  if (isTerminal(job)) return job;
  switch (event.type) {
    case 'queued':
      return job;
    case 'running':
      return {
        ...job,
        status: 'running',
        attempts: job.attempts + 1,
        started_at: job.started_at ?? event.created_at,
        stage: event.stage ?? job.stage,
      };
    case 'progress':
      return {
        ...job,
        stage: event.stage ?? job.stage,
        progress: Math.max(job.progress, event.progress ?? 0),
      };
    case 'cancel_requested':
      return { ...job, cancel_requested: true };
    case 'succeeded':
      return {
        ...job,
        status: 'succeeded',
        stage: null,
        progress: 1,
        finished_at: event.created_at,
        outputs: (event.data.outputs as JobOutput[] | undefined) ?? [],
        metrics: (event.data.metrics as JobMetrics | undefined) ?? null,
      };
    case 'failed':
      return { ...job, status: 'failed', finished_at: event.created_at, error: event.data.error as JobError };
    case 'canceled':
      return { ...job, status: 'canceled', finished_at: event.created_at };
  }
}
