/** Files: model weights and datasets, uploaded once and referenced by id. */
import { z } from 'zod';
import { FILE_NAME_MAX_BYTES, fileNameProblem } from './file-names.ts';
import { FileId } from './ids.ts';

export const FilePurpose = z.enum(['model', 'dataset']);
export type FilePurpose = z.infer<typeof FilePurpose>;

/**
 * An architecture as the engine describes it (README, "Architecture JSON").
 * The API checks the family and the fields every family has; the engine's
 * own parser checks the rest when the file is completed.
 */
export const ArchSchema = z.looseObject({
  family: z.enum(['mlp', 'vgg', 'resnet']),
  input: z.array(z.int().positive()).min(1),
  classes: z.int().positive(),
});
export type ArchJson = z.infer<typeof ArchSchema>;

/** A file's name: the rules and why are in file-names.ts. */
const FileName = z
  .string()
  .min(1)
  .superRefine((name, ctx) => {
    const problem = fileNameProblem(name);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe(`A plain file name: Unicode welcome; at most ${FILE_NAME_MAX_BYTES} bytes of UTF-8; no "/", "\\", control or bidi-override characters`);

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

export const CreateFileInput = z.strictObject({
  name: FileName,
  purpose: FilePurpose,
  /** Exact size of the upload in bytes; the upload is refused past it. */
  size: z.int().positive(),
  /** Explicit architecture of a model file; wins over `__metadata__.arch` and inference. */
  arch: ArchSchema.optional(),
});
export type CreateFileInput = z.infer<typeof CreateFileInput>;

export const ModelSummary = z.object({
  arch: ArchSchema,
  /** Where the architecture came from: the request, the file's `__metadata__.arch`, or tensor names and shapes. */
  arch_source: z.enum(['argument', 'metadata', 'inferred']),
  parameters: z.int().nonnegative(),
  dtypes: z.array(z.string()),
  tensors: z.int().nonnegative(),
});

export const DatasetSummary = z.object({
  samples: z.int().nonnegative(),
  /** Shape of one sample of `x` (e.g. [784] or [1, 28, 28]). */
  sample_shape: z.array(z.int().nonnegative()),
  x_dtype: z.string(),
  /** Whether the dataset has integer labels `y` (needed for evaluation). */
  labels: z.boolean(),
  /** Smallest and largest label in `y` (null without labels; absent for files completed before it was recorded). */
  label_range: z.tuple([z.int(), z.int()]).nullable().optional(),
});

export const FileObject = z.object({
  id: FileId,
  object: z.literal('file'),
  name: z.string(),
  purpose: FilePurpose,
  /** `pending` until the upload is completed and validated, then `ready`. */
  status: z.enum(['pending', 'ready']),
  size: z.int().nonnegative(),
  sha256: z.string().nullable(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
  model: ModelSummary.nullable(),
  dataset: DatasetSummary.nullable(),
});
export type FileObject = z.infer<typeof FileObject>;

export const UploadInstructions = z.object({
  method: z.literal('PUT'),
  /** A presigned object-store URL, or the API's own streaming endpoint (then send the API key too). */
  url: z.string(),
  /** Headers to send with the PUT. */
  headers: z.record(z.string(), z.string()),
  /** True when `url` is the API (send `Authorization`), false for a presigned URL (do not). */
  via_api: z.boolean(),
  expires_at: z.string().nullable(),
});
export type UploadInstructions = z.infer<typeof UploadInstructions>;

export const CreateFileResult = z.object({ file: FileObject, upload: UploadInstructions });
export type CreateFileResult = z.infer<typeof CreateFileResult>;

export const DownloadLink = z.object({
  url: z.string(),
  via_api: z.boolean(),
  expires_at: z.string().nullable(),
});
export type DownloadLink = z.infer<typeof DownloadLink>;
