/**
 * A job's append-only event log in the object store, plus a snapshot that
 * spares readers from folding the whole log on every request.
 *
 * Appends allocate the next sequence number with a create-only put
 * (`ifAbsent`): two writers racing for the same number cannot both win, and
 * the loser re-reads the state and decides again whether its event still
 * applies (`when`). The snapshot is a cache: it holds the fold up to some
 * sequence number, readers fold whatever came after it, so a stale snapshot
 * (written late by a slow writer) costs a few reads but is never wrong.
 */
import { type FusionJob, type JobEvent, JobEvent as JobEventSchema } from '../index.ts';
import { type ObjectStore, ObjectStoreError } from '../ports/index.ts';
import { layout, seqFromEventKey } from '../store-layout.ts';
import { type JobRecord, applyEvent, initialJob } from './job-state.ts';

export type EventDraft = Pick<JobEvent, 'type' | 'message'> & Partial<Pick<JobEvent, 'stage' | 'progress' | 'data'>>;

export interface JobState {
  job: FusionJob;
  /** Sequence number of the last event folded into `job` (0 before the first). */
  seq: number;
}

interface Snapshot extends JobState {}

const MAX_APPEND_ATTEMPTS = 20;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function fromJson<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}

const READ_ATTEMPTS = 5;

/** Errors that say something about the object (absent, bad key), as opposed to a failed read. */
function isDefinitive(err: unknown): boolean {
  if (err instanceof ObjectStoreError) return err.code !== 'unavailable';
  return err instanceof TypeError || err instanceof RangeError;
}

/**
 * Reads a small JSON object (a record, an event, a snapshot), or null when it
 * is absent. A failed read is tried again a few times before it counts: a
 * connection reset mid-body is not retried by the S3 SDK, and s3rver (the
 * tests' S3) writes objects in place, so a reader racing a writer there can
 * see a prefix of the object that does not parse. A persistent failure still
 * throws.
 */
export async function readJson<T>(store: ObjectStore, key: string): Promise<T | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return fromJson<T>(await store.getBytes(key));
    } catch (err) {
      if (err instanceof ObjectStoreError && err.code === 'not_found') return null;
      if (isDefinitive(err) || attempt >= READ_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
    }
  }
}

export class JobLog {
  constructor(
    private readonly store: ObjectStore,
    readonly tenant: string,
    readonly jobId: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The creation record, or null when there is no such job for this tenant. */
  record(): Promise<JobRecord | null> {
    return readJson<JobRecord>(this.store, layout.jobRecord(this.tenant, this.jobId));
  }

  /** Events with sequence numbers above `after`, in order. */
  async events(after: number, limit: number): Promise<JobEvent[]> {
    const prefix = layout.jobEvents(this.tenant, this.jobId);
    const page = await this.store.list(prefix, {
      after: after > 0 ? layout.jobEvent(this.tenant, this.jobId, after) : undefined,
      limit,
    });
    return Promise.all(
      page.objects.map(async (o) => {
        const event = await readJson<unknown>(this.store, o.key);
        if (event === null) throw new Error(`event ${o.key} was listed but cannot be read`);
        return JobEventSchema.parse(event);
      }),
    );
  }

  /** The current state; null when the job does not exist. */
  async state(): Promise<JobState | null> {
    const snapshot = await readJson<Snapshot>(this.store, layout.jobSnapshot(this.tenant, this.jobId));
    let state: JobState;
    if (snapshot) {
      state = snapshot;
    } else {
      const record = await this.record();
      if (!record) return null;
      state = { job: initialJob(record), seq: 0 };
    }
    for (;;) {
      const tail = await this.events(state.seq, 1000);
      for (const event of tail) state = { job: applyEvent(state.job, event), seq: event.seq };
      if (tail.length < 1000) return state;
    }
  }

  /**
   * Appends `draft` if `when(current state)` holds, returning the event (or
   * null when it no longer applies) and the state after it.
   */
  async append(draft: EventDraft, when: (job: FusionJob, seq: number) => boolean = () => true): Promise<{ event: JobEvent | null; state: JobState }> {
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      const state = await this.state();
      if (!state) throw new Error(`job ${this.jobId} has no record`);
      if (!when(state.job, state.seq)) return { event: null, state };
      const seq = state.seq + 1;
      const event: JobEvent = {
        id: String(seq),
        object: 'fusion.event',
        job_id: this.jobId,
        seq,
        type: draft.type,
        created_at: this.now().toISOString(),
        stage: draft.stage ?? null,
        progress: draft.progress ?? null,
        message: draft.message,
        data: draft.data ?? {},
      };
      try {
        await this.store.put(layout.jobEvent(this.tenant, this.jobId, seq), toJson(event), {
          ifAbsent: true,
          contentType: 'application/json',
        });
      } catch (err) {
        if (err instanceof ObjectStoreError && err.code === 'exists') continue;
        throw err;
      }
      const next: JobState = { job: applyEvent(state.job, event), seq };
      await this.writeSnapshot(next);
      return { event, state: next };
    }
    throw new Error(`job ${this.jobId}: could not append an event after ${MAX_APPEND_ATTEMPTS} attempts (too much contention)`);
  }

  private async writeSnapshot(state: JobState): Promise<void> {
    try {
      await this.store.put(layout.jobSnapshot(this.tenant, this.jobId), toJson(state), { contentType: 'application/json' });
    } catch {
      // The snapshot only saves readers work; the event is already durable.
    }
  }
}
