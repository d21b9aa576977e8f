/**
 * Files beyond their upload: list them (newest first, by purpose/status),
 * delete one no running work uses, and remove uploads left pending past
 * their time to live.
 *
 * Deletion against concurrent use: the deleter writes the file's tombstone,
 * then looks for users (unfinished jobs, lineage versions); job creation and
 * lineage registration write their reference first, then look for the
 * tombstone and the record (see `assertFilesLive`). Of two racing sides at
 * least one sees the other, so a job never starts on deleted bytes. The
 * record is removed before the tombstone, so "tombstone absent and record
 * present" can only be read while the file is really there.
 */
import type { DeletedFile, FileObject, ListFilesInput, ListPage, ModelVersion } from '@clafusion/contract';
import { ApiError } from '../errors.ts';
import { type FileService, type StoredFile, publicFile } from '../files/file-service.ts';
import { JobLog, readJson, toJson } from '@clafusion/contract/job-log';
import { type JobRecord, isTerminal } from '@clafusion/contract/job-state';
import type { ObjectStore } from '@clafusion/contract/ports';
import { layout } from '@clafusion/contract/store-layout';
import { claimOnce, releaseClaim } from './claims.ts';
import { inputFileIds } from './file-guard.ts';
import { idTime } from '../ids.ts';
import { lifecycleKeys } from '@clafusion/contract/lifecycle-keys';

/** A reference a file cannot be deleted under. */
export interface FileUser {
  kind: 'job' | 'lineage_version';
  id: string;
}

export class FileLifecycle {
  constructor(
    private readonly store: ObjectStore,
    private readonly files: FileService,
  ) {}

  /** Newest first; `after` is the last id of the previous page. */
  async list(tenant: string, input: ListFilesInput): Promise<ListPage<FileObject>> {
    const prefix = lifecycleKeys.files(tenant);
    const matched: FileObject[] = [];
    // Past every object of the `after` file's folder (content, deleting, file.json).
    let cursor = input.after ? `${lifecycleKeys.fileFolder(tenant, input.after)}zzzz` : undefined;
    while (matched.length <= input.limit) {
      const page = await this.store.list(prefix, { after: cursor, limit: 1000 });
      const records = page.objects.filter((o) => o.key.endsWith('/file.json'));
      const stored = await Promise.all(records.map((o) => readJson<StoredFile>(this.store, o.key)));
      for (const file of stored) {
        if (file === null) continue; // deleted since it was listed
        if (input.purpose && file.purpose !== input.purpose) continue;
        if (input.status && file.status !== input.status) continue;
        matched.push(publicFile(file));
        if (matched.length > input.limit) break;
      }
      if (!page.next) break;
      cursor = page.next;
    }
    const hasMore = matched.length > input.limit;
    const data = matched.slice(0, input.limit);
    return { object: 'list', data, has_more: hasMore, next_after: hasMore ? data[data.length - 1].id : null };
  }

  /** Deletes the bytes and the record; 409 `file_in_use` while an unfinished job or a lineage version names it. */
  async delete(tenant: string, id: string): Promise<DeletedFile> {
    await this.files.stored(tenant, id);
    const tombstone = lifecycleKeys.fileTombstone(tenant, id);
    await this.store.put(tombstone, toJson({ at: new Date().toISOString() }), { contentType: 'application/json' });
    let users: FileUser[];
    try {
      users = await this.usersOf(tenant, id);
    } catch (err) {
      await this.store.delete(tombstone);
      throw err;
    }
    if (users.length > 0) {
      await this.store.delete(tombstone);
      const jobs = users.filter((u) => u.kind === 'job').map((u) => u.id);
      const versions = users.filter((u) => u.kind === 'lineage_version').map((u) => u.id);
      const named = [...(jobs.length ? [`job ${jobs.join(', ')}`] : []), ...(versions.length ? [`lineage version ${versions.join(', ')}`] : [])].join(' and ');
      throw new ApiError('file_in_use', `File ${id} is used by ${named}; delete or wait for those first`, { id, jobs, lineage_versions: versions });
    }
    await this.remove(tenant, id);
    return { id, object: 'file', deleted: true };
  }

  /** Removes every object of the file; the tombstone goes last (see the module comment). */
  private async remove(tenant: string, id: string): Promise<void> {
    await this.store.delete(layout.fileContent(tenant, id));
    await this.store.delete(layout.fileRecord(tenant, id));
    await this.store.delete(lifecycleKeys.pendingFile(tenant, id));
    await this.store.delete(lifecycleKeys.fileTombstone(tenant, id));
  }

  /** Unfinished jobs of the tenant whose inputs include the file, and lineage versions that are the file. */
  async usersOf(tenant: string, id: string): Promise<FileUser[]> {
    const users: FileUser[] = [];
    for await (const key of listAll(this.store, layout.activeJobs())) {
      const jobId = key.slice(key.lastIndexOf('/') + 1);
      const entry = await readJson<{ tenant: string }>(this.store, key);
      if (entry?.tenant !== tenant) continue;
      const record = await readJson<JobRecord>(this.store, layout.jobRecord(tenant, jobId));
      if (!record || !inputFileIds(record.inputs).includes(id)) continue;
      const state = await new JobLog(this.store, tenant, jobId).state();
      if (state && !isTerminal(state.job)) users.push({ kind: 'job', id: jobId });
    }
    for await (const indexKey of listAll(this.store, layout.lineageIndex(tenant))) {
      const name = indexKey.slice(indexKey.lastIndexOf('/') + 1);
      for await (const key of listAll(this.store, layout.lineageVersions(tenant, name))) {
        const version = await readJson<ModelVersion>(this.store, key);
        if (version?.file === id) users.push({ kind: 'lineage_version', id: `${name}@${version.version}` });
      }
    }
    return users;
  }

  /**
   * Removes uploads still pending `ttlMs` after they were created. Safe with
   * several instances sweeping at once: each deletion is claimed once, and a
   * completion racing the sweep either finishes first (the file is ready and
   * left alone) or fails on the tombstone. Returns how many this call removed.
   */
  async sweepPending(ttlMs: number, now = new Date()): Promise<number> {
    let removed = 0;
    for await (const key of listAll(this.store, lifecycleKeys.pendingFiles())) {
      const [tenant, id] = key.slice(lifecycleKeys.pendingFiles().length).split('/');
      if (now.getTime() - idTime(id).getTime() < ttlMs) continue;
      const entry = { tenant };
      const claim = lifecycleKeys.sweepClaim(id);
      if (!(await claimOnce(this.store, claim, now))) continue;
      try {
        // Another instance may have finished this one between our listing and our claim.
        if ((await this.store.head(key)) === null) continue;
        const tombstone = lifecycleKeys.fileTombstone(entry.tenant, id);
        await this.store.put(tombstone, toJson({ at: now.toISOString(), reason: 'pending upload expired' }), { contentType: 'application/json' });
        const file = await readJson<StoredFile>(this.store, layout.fileRecord(entry.tenant, id));
        if (file?.status === 'ready') {
          await this.store.delete(tombstone);
          await this.store.delete(key);
          continue;
        }
        await this.remove(entry.tenant, id);
        removed++;
      } finally {
        await releaseClaim(this.store, claim);
      }
    }
    return removed;
  }
}

/** Every key under `prefix`, page by page. */
export async function* listAll(store: ObjectStore, prefix: string): AsyncGenerator<string> {
  let after: string | undefined;
  do {
    const page = await store.list(prefix, { after, limit: 1000 });
    for (const o of page.objects) yield o.key;
    after = page.next;
  } while (after);
}
