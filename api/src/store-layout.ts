/**
 * Where everything lives in the object store. Every tenant's data sits under
 * `tenants/<tenant>/`, so a lookup can only ever reach the caller's own
 * objects; ids are validated against the contract's patterns before they get
 * here, so a key can never be steered outside its prefix.
 */
import type { OutputName } from './contract/index.ts';

const tenantRoot = (tenant: string) => `tenants/${tenant}`;

export const layout = {
  apiKey: (keyId: string) => `system/api-keys/${keyId}.json`,
  /** Jobs not yet finished, for the embedded queue to pick up again after a restart. */
  activeJobs: () => 'system/active-jobs/',
  activeJob: (jobId: string) => `system/active-jobs/${jobId}`,

  fileRecord: (tenant: string, fileId: string) => `${tenantRoot(tenant)}/files/${fileId}/file.json`,
  fileContent: (tenant: string, fileId: string) => `${tenantRoot(tenant)}/files/${fileId}/content`,

  jobRecord: (tenant: string, jobId: string) => `${tenantRoot(tenant)}/fusions/${jobId}/record.json`,
  jobSnapshot: (tenant: string, jobId: string) => `${tenantRoot(tenant)}/fusions/${jobId}/snapshot.json`,
  jobEvents: (tenant: string, jobId: string) => `${tenantRoot(tenant)}/fusions/${jobId}/events/`,
  jobEvent: (tenant: string, jobId: string, seq: number) => `${tenantRoot(tenant)}/fusions/${jobId}/events/${String(seq).padStart(10, '0')}`,
  jobOutput: (tenant: string, jobId: string, name: OutputName) => `${tenantRoot(tenant)}/fusions/${jobId}/outputs/${name}`,
  /** One empty object per job, so listing a tenant's jobs does not walk their events. */
  jobIndex: (tenant: string) => `${tenantRoot(tenant)}/fusion-index/`,
  jobIndexEntry: (tenant: string, jobId: string) => `${tenantRoot(tenant)}/fusion-index/${jobId}`,
  idempotency: (tenant: string, keyHash: string) => `${tenantRoot(tenant)}/idempotency/${keyHash}.json`,
};

export function seqFromEventKey(key: string): number {
  return Number(key.slice(key.lastIndexOf('/') + 1));
}
