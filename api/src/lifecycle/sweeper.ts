/**
 * The retention sweeper every API instance runs: pending uploads older than
 * PENDING_UPLOAD_TTL go, and finished jobs older than JOB_RETENTION_DAYS
 * when it is set. Instances need no coordination beyond the per-item claims
 * (lifecycle/claims.ts): each expired thing is deleted by one of them.
 */
import type { FileLifecycle } from './file-lifecycle.ts';
import type { JobLifecycle } from './job-lifecycle.ts';

export interface SweeperSettings {
  /** Milliseconds between passes; 0 = no periodic pass. */
  intervalMs: number;
  /** Age in ms after which a still-pending upload is removed. */
  pendingUploadTtlMs: number;
  /** Age in ms (since finishing) after which a finished job is removed; null = keep jobs. */
  jobRetentionMs: number | null;
}

export interface SweepReport {
  pendingFiles: number;
  jobs: number;
}

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepReport> | null = null;

  constructor(
    private readonly files: FileLifecycle,
    private readonly jobs: JobLifecycle,
    private readonly settings: SweeperSettings,
    private readonly onError: (err: unknown) => void = (err) => console.warn('[sweeper]', err instanceof Error ? err.message : err),
  ) {}

  /** One pass (a pass already in progress is joined, not doubled). */
  sweep(now = new Date()): Promise<SweepReport> {
    this.running ??= (async () => {
      try {
        const pendingFiles = await this.files.sweepPending(this.settings.pendingUploadTtlMs, now);
        const jobs = this.settings.jobRetentionMs === null ? 0 : await this.jobs.sweepFinished(this.settings.jobRetentionMs, now);
        return { pendingFiles, jobs };
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  start(): void {
    if (this.settings.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.sweep().catch(this.onError);
    }, this.settings.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }
}
