/**
 * Model lineages: a name under which model files are registered as
 * immutable, numbered versions (1, 2, 3, …). A fusion spec can name a model
 * by `{name, version}` (or `version: "latest"`) instead of a file id, and a
 * schedule publishes each fused model as the next version of its output
 * lineage.
 */
import { z } from 'zod';
import { FileId, FusionId, ScheduleId } from './ids.ts';

/** Lineage names become object-store key segments, hence the strict alphabet. */
export const LINEAGE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/;
export const LineageName = z.string().regex(LINEAGE_NAME_PATTERN, 'must be 1-100 lowercase letters, digits or "._-", starting with a letter or digit');

export const VersionNumber = z.int().positive().max(999_999_999);

/** A model named through its lineage: a fixed version, or whichever is newest when it is resolved. */
export const ModelRef = z.strictObject({
  name: LineageName,
  version: z.union([VersionNumber, z.literal('latest')]),
});
export type ModelRef = z.infer<typeof ModelRef>;

/** Where a version came from: a registered upload, or the fused model of a scheduled run. */
export const VersionSource = z.discriminatedUnion('type', [
  z.object({ type: z.literal('upload') }),
  z.object({ type: z.literal('schedule'), schedule_id: ScheduleId, tick_at: z.string(), job_id: FusionId }),
]);
export type VersionSource = z.infer<typeof VersionSource>;

export const ModelVersion = z.object({
  object: z.literal('model_version'),
  lineage: LineageName,
  version: VersionNumber,
  /** The model file (purpose `model`, ready) this version is; usable anywhere a file id is. */
  file: FileId,
  sha256: z.string().nullable(),
  created_at: z.string(),
  source: VersionSource,
});
export type ModelVersion = z.infer<typeof ModelVersion>;

export const Lineage = z.object({
  object: z.literal('lineage'),
  name: LineageName,
  created_at: z.string(),
  /** The newest version, null while none is registered yet. */
  latest: ModelVersion.nullable(),
});
export type Lineage = z.infer<typeof Lineage>;

export const RegisterVersionInput = z.strictObject({
  name: LineageName,
  /** A ready model file of the caller's; it becomes the lineage's next version. */
  file: FileId,
});
export type RegisterVersionInput = z.infer<typeof RegisterVersionInput>;
