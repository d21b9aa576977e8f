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
  CreateScheduleInput,
  DeletedFile,
  DeletedFusion,
  DownloadLink,
  FileObject,
  FilePurpose,
  FusionJob,
  FusionRequest,
  FusionSpec,
  JobError,
  JobEvent,
  JobOutput,
  JobStage,
  JobStatus,
  Lineage,
  ListPage,
  ModelRef,
  ModelVersion,
  OutputName,
  Schedule,
  ScheduleRun,
  ScheduleWithRuns,
  VersionInfo,
  UpdateScheduleInput,
} from '../../../api/src/contract/index.ts';
