/**
 * The API's types, imported from the server's contract at build time only
 * (`import type` is erased from the JavaScript), so the SDK carries no
 * server code at run time.
 */
export type {
  ApiErrorBody,
  ApiErrorCode,
  CreateFileInput,
  CreateFileResult,
  DownloadLink,
  FileObject,
  FilePurpose,
  FusionJob,
  FusionSpec,
  JobError,
  JobEvent,
  JobOutput,
  JobStage,
  JobStatus,
  ListPage,
  OutputName,
} from '../../../api/src/contract/index.ts';
