/**
 * Deleting finished jobs (record, events, snapshot, outputs) on request and,
 * when JOB_RETENTION_DAYS is set, once they are older than the retention.
 * Queued and running jobs are never deleted: cancel them first.
 */
import type { DeletedFusion } from '@clafusion/contract';
import { ApiError, notFound } from '../errors.ts';
import { idTimeFloor } from '../ids.ts';
import { JobLog, readJson } from '@clafusion/contract/job-log';
import { isTerminal } from '@clafusion/contract/job-state';
import type { ObjectStore } from '@clafusion/contract/ports';
import { layout } from '@clafusion/contract/store-layout';
import { claimOnce, releaseClaim } from './claims.ts';
import { listAll } from './file-lifecycle.ts';
import { webhookKeys } from '../webhooks/webhook-service.ts';
import { lifecycleKeys } from '@clafusion/contract/lifecycle-keys';

export class JobLifecycle {
  constructor(private readonly store: ObjectStore) {}

  async delete(tenant: string, id: string): Promise<DeletedFusion> {
    const state = await new JobLog(this.store, tenant, id).state();
    if (!state) {
      // A deletion cut off after the record went: finish it, so a retry cleans up.
      if (await this.remove(tenant, id)) return { id, object: 'fusion', deleted: true };
      throw notFound('fusion', id);
    }
    if (!isTerminal(state.job)) {
      throw new ApiError('job_not_finished', `Fusion ${id} is ${state.job.status}; cancel it first, then delete it`, { id, status: state.job.status });
    }
    await this.remove(tenant, id);
    return { id, object: 'fusion', deleted: true };
  }

  /**
   * The index entry goes first (listings stop showing the job), then the
   * record (reads answer 404), then everything else under the job's folder.
   * Returns whether anything was there.
   */
  private async remove(tenant: string, id: string): Promise<boolean> {
    const indexed = (await this.store.head(layout.jobIndexEntry(tenant, id))) !== null;
    await this.store.delete(layout.jobIndexEntry(tenant, id));
    await this.store.delete(layout.jobRecord(tenant, id));
    let any = indexed;
    for (;;) {
      const page = await this.store.list(lifecycleKeys.jobFolder(tenant, id), { limit: 1000 });
      if (page.objects.length === 0) break;
      any = true;
      await Promise.all(page.objects.map((o) => this.store.delete(o.key)));
    }
    // Its webhook deliveries (records and anything still pending) go with it.
    for await (const key of listAll(this.store, webhookKeys.deliveries(tenant, id))) {
      any = true;
      await this.store.delete(key);
    }
    for await (const key of listAll(this.store, webhookKeys.pending())) {
      if (key.slice(key.lastIndexOf('/') + 1).startsWith(`${id}.`)) await this.store.delete(key);
    }
    await this.store.delete(webhookKeys.watchedJob(id));
    await this.store.delete(layout.activeJob(id));
    return any;
  }

  /**
   * Deletes every finished job that finished more than `retentionMs` ago.
   * Only jobs created before the cutoff can qualify, and ids sort newest
   * first, so each tenant's index is read from the cutoff on. Each deletion
   * is claimed once across instances. Returns how many this call deleted.
   */
  async sweepFinished(retentionMs: number, now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - retentionMs);
    let removed = 0;
    for (const tenant of await tenants(this.store)) {
      let after: string | undefined = layout.jobIndexEntry(tenant, idTimeFloor('fus', cutoff));
      do {
        const page = await this.store.list(layout.jobIndex(tenant), { after, limit: 500 });
        for (const o of page.objects) {
          const id = o.key.slice(o.key.lastIndexOf('/') + 1);
          const state = await new JobLog(this.store, tenant, id).state();
          if (!state || !isTerminal(state.job) || state.job.finished_at === null || Date.parse(state.job.finished_at) >= cutoff.getTime()) continue;
          const claim = lifecycleKeys.sweepClaim(id);
          if (!(await claimOnce(this.store, claim, now))) continue;
          try {
            if ((await this.store.head(layout.jobRecord(tenant, id))) === null) continue;
            await this.remove(tenant, id);
            removed++;
          } finally {
            await releaseClaim(this.store, claim);
          }
        }
        after = page.next;
      } while (after);
    }
    return removed;
  }
}

/** Tenants that have (or had) an API key. */
async function tenants(store: ObjectStore): Promise<string[]> {
  const found = new Set<string>();
  const prefix = layout.apiKey('x').replace(/x\.json$/, '');
  for await (const key of listAll(store, prefix)) {
    const record = await readJson<{ tenant: string }>(store, key);
    if (record) found.add(record.tenant);
  }
  return [...found];
}
