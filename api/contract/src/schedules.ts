/**
 * Schedules: a fusion that runs on a cron expression (in an IANA time zone)
 * or every N seconds, from a spec template whose models are usually lineage
 * references resolved at each tick, publishing each fused model as the next
 * version of an output lineage. Every tick leaves a run.
 */
import { z } from 'zod';
import { FusionRequest } from './fusion-request.ts';
import { FileId, FusionId, ScheduleId } from './ids.ts';
import { LineageName, VersionNumber } from './lineages.ts';

export const SCHEDULE_LIMITS = {
  /**
   * Shortest `every`, in seconds. Each tick creates a job and resolves
   * lineages in the store; faster than this, ticks would mostly pile up
   * behind each other (use skip_unchanged for cheap frequent checks).
   */
  minEverySeconds: 2,
  /** Longest `every`: a year. Longer periods are cron expressions. */
  maxEverySeconds: 366 * 86_400,
} as const;

const Every = z.int().min(SCHEDULE_LIMITS.minEverySeconds).max(SCHEDULE_LIMITS.maxEverySeconds);
const Cron = z.string().min(1).max(200);
/** Checked against the runtime's IANA database when the schedule is created or changed. */
const TimeZone = z.string().min(1).max(100);
const ScheduleName = z.string().min(1).max(200);

export const ScheduleOutput = z.strictObject({
  /** Each successful run's fused model becomes the next version of this lineage (created on first use). */
  lineage: LineageName,
});

export const CreateScheduleInput = z.strictObject({
  name: ScheduleName.optional(),
  /** A cron expression (5 fields, or 6 with seconds first). Exactly one of `cron` and `every`. */
  cron: Cron.optional(),
  /** IANA time zone of `cron` (default UTC). */
  timezone: TimeZone.optional(),
  /** Seconds between ticks. Exactly one of `cron` and `every`. */
  every: Every.optional(),
  template: FusionRequest,
  output: ScheduleOutput,
  /** Skip a tick whose resolved inputs equal those of the last successful (or still running) run; the run is recorded as `skipped`. */
  skip_unchanged: z.boolean().optional(),
});
export type CreateScheduleInput = z.infer<typeof CreateScheduleInput>;

/** Fields left out stay as they are; giving `cron` replaces `every` and the other way round. */
export const UpdateScheduleInput = z.strictObject({
  id: ScheduleId,
  name: ScheduleName.optional(),
  cron: Cron.optional(),
  timezone: TimeZone.optional(),
  every: Every.optional(),
  template: FusionRequest.optional(),
  output: ScheduleOutput.optional(),
  skip_unchanged: z.boolean().optional(),
});
export type UpdateScheduleInput = z.infer<typeof UpdateScheduleInput>;

export const ScheduleStatus = z.enum(['active', 'paused']);

export const Schedule = z.object({
  id: ScheduleId,
  object: z.literal('schedule'),
  name: z.string().nullable(),
  status: ScheduleStatus,
  cron: z.string().nullable(),
  timezone: z.string().nullable(),
  every: z.int().nullable(),
  template: FusionRequest,
  output: ScheduleOutput,
  skip_unchanged: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Schedule = z.infer<typeof Schedule>;

/** A run's id is its tick time in ms since the epoch, as a decimal string. */
export const RunId = z.string().regex(/^[1-9]\d{0,14}$/, 'must be a run id (a tick time in ms)');

/**
 * What a tick came to:
 * - skipped: skip_unchanged was set and the inputs had not changed;
 * - failed: the job failed, or no job could be made (e.g. a referenced lineage was deleted; see `error`);
 * - queued/running/succeeded/canceled: the job's status.
 */
export const RunOutcome = z.enum(['pending', 'skipped', 'queued', 'running', 'succeeded', 'failed', 'canceled']);
export type RunOutcome = z.infer<typeof RunOutcome>;

export const RunModelInput = z.object({
  file: FileId,
  lineage: z.object({ name: LineageName, version: VersionNumber }).nullable(),
});

export const ScheduleRun = z.object({
  id: RunId,
  object: z.literal('schedule.run'),
  schedule_id: ScheduleId,
  tick_at: z.string(),
  outcome: RunOutcome,
  job_id: FusionId.nullable(),
  /** The models the tick resolved, in template order (null when resolution failed). */
  models: z.array(RunModelInput).nullable(),
  /** The output lineage version this run's fused model became (null until it succeeded and was published). */
  output: z.object({ lineage: LineageName, version: VersionNumber }).nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  created_at: z.string(),
});
export type ScheduleRun = z.infer<typeof ScheduleRun>;
