/**
 * Lifecycle of files and jobs: listing with filters, deletion, and what the
 * service says about itself (`GET /v1/version`).
 */
import { z } from 'zod';
import { FilePurpose } from './files.ts';
import { FileId, FusionId } from './ids.ts';
import { JobStatus } from './jobs.ts';
import { listQuery } from './pagination.ts';
import { Schedule, ScheduleRun } from './schedules.ts';

export const FileStatus = z.enum(['pending', 'ready']);

/** `GET /v1/files`: newest first, optionally only one purpose and/or status. */
export const ListFilesInput = listQuery(FileId).extend({
  purpose: FilePurpose.optional(),
  status: FileStatus.optional(),
});
export type ListFilesInput = z.infer<typeof ListFilesInput>;

/** `GET /v1/fusions`: newest first, optionally only jobs in one status. */
export const ListFusionsInput = listQuery(FusionId).extend({ status: JobStatus.optional() });
export type ListFusionsInput = z.infer<typeof ListFusionsInput>;

export const DeletedFile = z.object({ id: FileId, object: z.literal('file'), deleted: z.literal(true) });
export type DeletedFile = z.infer<typeof DeletedFile>;

export const DeletedFusion = z.object({ id: FusionId, object: z.literal('fusion'), deleted: z.literal(true) });
export type DeletedFusion = z.infer<typeof DeletedFusion>;

export const RunnerSeen = z.object({
  /** The runner's id (host:pid:…), as in a job's `running` event. */
  runner: z.string(),
  /** The engine backend it runs on (e.g. `cpu`, `tfjs-node`, `tfjs-node-gpu`). */
  backend: z.string(),
  engine_version: z.string(),
  seen_at: z.string(),
});
export type RunnerSeen = z.infer<typeof RunnerSeen>;

export const VersionInfo = z.object({
  object: z.literal('version'),
  api_version: z.string(),
  /** The engine version of the runner seen last; null while no runner has finished a job. */
  engine_version: z.string().nullable(),
  /** Runners that finished a job within the last day, newest first. */
  runners: z.array(RunnerSeen),
});
export type VersionInfo = z.infer<typeof VersionInfo>;

/**
 * A schedule as the API answers it: the stored schedule plus when it fires
 * next (null while paused) and its newest run (null before the first tick).
 */
export const ScheduleWithRuns = Schedule.extend({
  next_run_at: z.string().nullable(),
  last_run: ScheduleRun.nullable(),
});
export type ScheduleWithRuns = z.infer<typeof ScheduleWithRuns>;

/** What a signed link opens: the report page, or one output's bytes. */
export const LinkTarget = z.enum(['report', 'fused.safetensors', 'report.json', 'report.html']);

export const CreateLinkInput = z.strictObject({
  id: FusionId,
  /** Default `report`. */
  target: LinkTarget.default('report'),
  /** Seconds the link stays valid (1 to 86400, default 900: 15 minutes). */
  expires_in: z.int().min(1).max(86_400).default(900),
});
export type CreateLinkInput = z.infer<typeof CreateLinkInput>;

export const SignedLink = z.object({
  object: z.literal('link'),
  /** Open it without an API key until `expires_at`; it opens only this job's `target`, for this tenant. */
  url: z.string(),
  target: LinkTarget,
  expires_at: z.string(),
});
export type SignedLink = z.infer<typeof SignedLink>;
