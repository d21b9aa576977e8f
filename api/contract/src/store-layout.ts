/**
 * Where everything lives in the object store. Every tenant's data sits under
 * `tenants/<tenant>/`, so a lookup can only ever reach the caller's own
 * objects; ids are validated against the contract's patterns before they get
 * here, so a key can never be steered outside its prefix.
 */
import type { OutputName } from './index.ts';

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
  jobOutputs: (tenant: string, jobId: string) => `${tenantRoot(tenant)}/fusions/${jobId}/outputs/`,
  /**
   * Outputs are addressed by their content. A job can run twice at once (a
   * runner presumed dead, a job re-enqueued after Redis lost it), and a
   * report carries timings, so two runs write different bytes. The first
   * `succeeded` event records its outputs' sha256, and the key it names holds
   * exactly those bytes: a losing run writes other keys, never the winner's.
   */
  jobOutput: (tenant: string, jobId: string, name: OutputName, sha256: string) => `${tenantRoot(tenant)}/fusions/${jobId}/outputs/${name}/${sha256}`,
  /** Where outputs were written before they were addressed by content; still read for old jobs. */
  legacyJobOutput: (tenant: string, jobId: string, name: OutputName) => `${tenantRoot(tenant)}/fusions/${jobId}/outputs/${name}`,
  /** One empty object per job, so listing a tenant's jobs does not walk their events. */
  jobIndex: (tenant: string) => `${tenantRoot(tenant)}/fusion-index/`,
  jobIndexEntry: (tenant: string, jobId: string) => `${tenantRoot(tenant)}/fusion-index/${jobId}`,
  idempotency: (tenant: string, keyHash: string) => `${tenantRoot(tenant)}/idempotency/${keyHash}.json`,

  /** Schedules of every tenant, so a restarted embedded scheduler can arm them again. */
  schedulesIndex: () => 'system/schedules/',
  scheduleIndexSystem: (scheduleId: string) => `system/schedules/${scheduleId}`,

  lineageRecord: (tenant: string, name: string) => `${tenantRoot(tenant)}/lineages/${name}/lineage.json`,
  lineageVersions: (tenant: string, name: string) => `${tenantRoot(tenant)}/lineages/${name}/versions/`,
  /** Version keys count down, so the first listed is the newest. */
  lineageVersion: (tenant: string, name: string, version: number) =>
    `${tenantRoot(tenant)}/lineages/${name}/versions/${String(VERSION_SPAN - version).padStart(VERSION_DIGITS, '0')}`,
  lineageIndex: (tenant: string) => `${tenantRoot(tenant)}/lineage-index/`,
  lineageIndexEntry: (tenant: string, name: string) => `${tenantRoot(tenant)}/lineage-index/${name}`,

  scheduleRecord: (tenant: string, scheduleId: string) => `${tenantRoot(tenant)}/schedules/${scheduleId}/schedule.json`,
  scheduleRuns: (tenant: string, scheduleId: string) => `${tenantRoot(tenant)}/schedules/${scheduleId}/runs/`,
  /** Run keys count down from the tick time, so runs list newest first. */
  scheduleRun: (tenant: string, scheduleId: string, tick: number) =>
    `${tenantRoot(tenant)}/schedules/${scheduleId}/runs/${String(TICK_SPAN - tick).padStart(TICK_DIGITS, '0')}`,
  /**
   * What became of a run after its record was written, one create-only
   * object per fact (its job, its published version, why no job could be
   * made): each is written once with a value every writer agrees on, so
   * duplicated tick handlers can never overwrite each other.
   */
  scheduleRunFact: (tenant: string, scheduleId: string, fact: 'job' | 'output' | 'error', tick: number) =>
    `${tenantRoot(tenant)}/schedules/${scheduleId}/run-${fact}s/${String(TICK_SPAN - tick).padStart(TICK_DIGITS, '0')}`,
  scheduleFolder: (tenant: string, scheduleId: string) => `${tenantRoot(tenant)}/schedules/${scheduleId}/`,
  scheduleIndex: (tenant: string) => `${tenantRoot(tenant)}/schedule-index/`,
  scheduleIndexEntry: (tenant: string, scheduleId: string) => `${tenantRoot(tenant)}/schedule-index/${scheduleId}`,
};

const VERSION_SPAN = 1_000_000_000;
const VERSION_DIGITS = 10;
const TICK_SPAN = 2 ** 45;
const TICK_DIGITS = 14;

export function versionFromKey(key: string): number {
  return VERSION_SPAN - Number(key.slice(key.lastIndexOf('/') + 1));
}

export function tickFromRunKey(key: string): number {
  return TICK_SPAN - Number(key.slice(key.lastIndexOf('/') + 1));
}

export function seqFromEventKey(key: string): number {
  return Number(key.slice(key.lastIndexOf('/') + 1));
}
