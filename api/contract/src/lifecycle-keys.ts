/**
 * Store keys of the lifecycle (listing, deletion, retention). Kept beside
 * the module that owns them; every one derives from store-layout's folders,
 * so a tenant's objects stay under `tenants/<tenant>/`.
 */
import { layout } from '@clafusion/contract/store-layout';

const fileFolder = (tenant: string, fileId: string) => layout.fileRecord(tenant, fileId).replace(/file\.json$/, '');

export const lifecycleKeys = {
  /** Every object of a tenant's files sits under here, one folder per file id (ids sort newest first). */
  files: (tenant: string) => fileFolder(tenant, 'x').replace(/x\/$/, ''),
  fileFolder,
  /**
   * Written before a file's bytes and record are removed. Job creation and
   * completion write their own state first and then look for it (and the
   * deletion looks at their state after writing it), so of two racing
   * writers at least one sees the other: a job never starts on a file being
   * deleted, and a file being completed is never swept.
   */
  fileTombstone: (tenant: string, fileId: string) => `${fileFolder(tenant, fileId)}deleting`,
  /** Every job object (record, snapshot, events, outputs) sits under here. */
  jobFolder: (tenant: string, jobId: string) => layout.jobRecord(tenant, jobId).replace(/record\.json$/, ''),
  /** One entry per pending upload of any tenant, so the sweeper need not walk every tenant's files. */
  pendingFiles: () => 'system/pending-files/',
  /** Tenant and id are in the key (and the creation time in the id), so a sweep reads nothing but the listing. */
  pendingFile: (tenant: string, fileId: string) => `system/pending-files/${tenant}/${fileId}`,
  /**
   * A create-only claim on one retention deletion: of several API instances
   * sweeping at once, the one that creates it deletes; the others skip.
   */
  sweepClaim: (id: string) => `system/sweep-claims/${id}`,
  /** What each runner last reported (GET /v1/version). */
  runners: () => 'system/runners/',
  runner: (runnerId: string) => `system/runners/r-${runnerId.replace(/[^A-Za-z0-9._\-=+@,:]/g, '_').slice(0, 150)}`,
};
