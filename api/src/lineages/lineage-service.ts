/**
 * Model lineages in the object store: `lineage.json` per name, one JSON
 * record per version under keys that count down (the first listed is the
 * newest), and an index entry per name for listing.
 *
 * Version numbers are allocated with the store's create-only put: a writer
 * reads the newest number n and creates n+1 with `ifAbsent`. Two writers
 * racing for the same number cannot both win; the loser reads again and
 * takes the next one. So concurrent registrations never share a number, on
 * the folder store and on S3 alike, and no lock or counter object is needed.
 */
import {
  type FileObject,
  type Lineage,
  type ListPage,
  type ModelRef,
  type ModelVersion,
  type VersionSource,
} from '@clafusion/contract';
import { ApiError, notFound } from '../errors.ts';
import type { FileService } from '../files/file-service.ts';
import { readJson, toJson } from '@clafusion/contract/job-log';
import { type ObjectStore, ObjectStoreError } from '@clafusion/contract/ports';
import { layout, versionFromKey } from '@clafusion/contract/store-layout';
import { assertFilesLive } from '../lifecycle/file-guard.ts';

interface LineageRecord {
  name: string;
  created_at: string;
}

/** A version's number is its place in the log; concurrent writers retry this often before giving up. */
const MAX_ALLOCATION_ATTEMPTS = 50;

export class LineageService {
  constructor(
    private readonly store: ObjectStore,
    private readonly files: FileService,
  ) {}

  /** Registers a ready model file as the lineage's next version, creating the lineage on first use. */
  async register(tenant: string, name: string, fileId: string, source: VersionSource = { type: 'upload' }): Promise<ModelVersion> {
    const file = await this.readyModel(tenant, fileId);
    await this.ensureLineage(tenant, name);
    for (let attempt = 0; attempt < MAX_ALLOCATION_ATTEMPTS; attempt++) {
      const version = (await this.latestNumber(tenant, name)) + 1;
      const created = await this.tryCreate(tenant, name, version, file, source);
      if (created) {
        await this.undoIfFileDeleted(tenant, name, created);
        return created;
      }
    }
    throw new ApiError('service_unavailable', `Lineage ${name}: too many concurrent registrations; retry`, { name });
  }

  /** The file was deleted while it was being registered (lifecycle/file-guard.ts): the version goes again. */
  private async undoIfFileDeleted(tenant: string, name: string, version: ModelVersion): Promise<void> {
    try {
      await assertFilesLive(this.store, tenant, [version.file]);
    } catch (err) {
      await this.store.delete(layout.lineageVersion(tenant, name, version.version));
      throw err;
    }
  }

  /**
   * Publishes the output of fusion job `source.job_id` as a new version,
   * once: a second call for the same job (a retried or duplicated
   * completion, another API instance doing the same) returns the version
   * the first one made. `floor` is the newest version number when the job
   * was made, so a version from this job can only be above it; each attempt
   * checks every version in (floor, newest] for the job before creating
   * newest+1, and a version created concurrently makes the create fail and
   * the check run again, so two versions for one job are impossible.
   * `makeFile` turns the job's output into a model file; it runs at most
   * once per call (a lost race can leave that file unreferenced, never a
   * second version).
   */
  async publishOnce(
    tenant: string,
    name: string,
    source: Extract<VersionSource, { type: 'schedule' }>,
    floor: number,
    makeFile: () => Promise<FileObject>,
  ): Promise<ModelVersion> {
    await this.ensureLineage(tenant, name);
    let file: FileObject | null = null;
    for (let attempt = 0; attempt < MAX_ALLOCATION_ATTEMPTS; attempt++) {
      const { found, newest } = await this.findFromJob(tenant, name, source.job_id, floor);
      if (found) return found;
      file ??= await makeFile();
      const created = await this.tryCreate(tenant, name, newest + 1, file, source);
      if (created) return created;
    }
    throw new ApiError('service_unavailable', `Lineage ${name}: too many concurrent registrations; retry`, { name });
  }

  async get(tenant: string, name: string): Promise<Lineage> {
    const record = await readJson<LineageRecord>(this.store, layout.lineageRecord(tenant, name));
    if (!record) throw notFound('lineage', name);
    const newest = await this.store.list(layout.lineageVersions(tenant, name), { limit: 1 });
    const latest = newest.objects[0] ? await readJson<ModelVersion>(this.store, newest.objects[0].key) : null;
    return { object: 'lineage', name: record.name, created_at: record.created_at, latest };
  }

  /** Alphabetical by name. */
  async list(tenant: string, after: string | undefined, limit: number): Promise<ListPage<Lineage>> {
    const page = await this.store.list(layout.lineageIndex(tenant), {
      after: after ? layout.lineageIndexEntry(tenant, after) : undefined,
      limit: limit + 1,
    });
    const names = page.objects.map((o) => o.key.slice(o.key.lastIndexOf('/') + 1));
    const hasMore = names.length > limit;
    const lineages = (
      await Promise.all(
        names.slice(0, limit).map((n) =>
          this.get(tenant, n).catch((err: unknown) => {
            // An index entry outliving its lineage (deleted mid-listing) is skipped.
            if (err instanceof ApiError && err.apiCode === 'not_found') return null;
            throw err;
          }),
        ),
      )
    ).filter((l): l is Lineage => l !== null);
    return { object: 'list', data: lineages, has_more: hasMore, next_after: hasMore ? names[limit - 1] : null };
  }

  /** Newest first; `after` is a version number. */
  async versions(tenant: string, name: string, after: number | undefined, limit: number): Promise<ListPage<ModelVersion>> {
    await this.get(tenant, name);
    const page = await this.store.list(layout.lineageVersions(tenant, name), {
      after: after !== undefined ? layout.lineageVersion(tenant, name, after) : undefined,
      limit: limit + 1,
    });
    const records = await Promise.all(page.objects.slice(0, limit).map((o) => readJson<ModelVersion>(this.store, o.key)));
    const data = records.filter((v): v is ModelVersion => v !== null);
    const hasMore = page.objects.length > limit;
    return { object: 'list', data, has_more: hasMore, next_after: hasMore ? String(data[data.length - 1].version) : null };
  }

  /** One version, or the newest with `latest`. */
  async version(tenant: string, name: string, version: number | 'latest'): Promise<ModelVersion> {
    if (version === 'latest') {
      const lineage = await this.get(tenant, name);
      if (!lineage.latest) throw new ApiError('not_found', `Lineage ${name} has no versions yet`, { name });
      return lineage.latest;
    }
    if (!(await readJson<LineageRecord>(this.store, layout.lineageRecord(tenant, name)))) throw notFound('lineage', name);
    const record = await readJson<ModelVersion>(this.store, layout.lineageVersion(tenant, name, version));
    if (!record) throw new ApiError('not_found', `Lineage ${name} has no version ${version}`, { name, version });
    return record;
  }

  /**
   * Resolves a reference to the version it names now. The error names the
   * lineage, so a job or scheduled run that fails on it says which one.
   */
  async resolve(tenant: string, ref: ModelRef): Promise<ModelVersion> {
    try {
      return await this.version(tenant, ref.name, ref.version);
    } catch (err) {
      if (err instanceof ApiError && err.apiCode === 'not_found' && err.details.id === ref.name) {
        throw new ApiError('not_found', `No such lineage: ${ref.name} (it was never registered, or it was deleted)`, { name: ref.name });
      }
      throw err;
    }
  }

  /** The newest version number, 0 when there is none. */
  async latestNumber(tenant: string, name: string): Promise<number> {
    const page = await this.store.list(layout.lineageVersions(tenant, name), { limit: 1 });
    return page.objects[0] ? versionFromKey(page.objects[0].key) : 0;
  }

  /**
   * Deletes the lineage and its versions (the model files stay: jobs made
   * from them still name them). The lineage record goes first, so from then
   * on every reference to the name fails to resolve.
   */
  async delete(tenant: string, name: string): Promise<{ object: 'lineage'; name: string; deleted: true }> {
    await this.get(tenant, name);
    await this.store.delete(layout.lineageRecord(tenant, name));
    await this.store.delete(layout.lineageIndexEntry(tenant, name));
    for (;;) {
      const page = await this.store.list(layout.lineageVersions(tenant, name), { limit: 1000 });
      if (page.objects.length === 0) break;
      await Promise.all(page.objects.map((o) => this.store.delete(o.key)));
    }
    return { object: 'lineage', name, deleted: true };
  }

  private async findFromJob(tenant: string, name: string, jobId: string, floor: number): Promise<{ found: ModelVersion | null; newest: number }> {
    let newest = 0;
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list(layout.lineageVersions(tenant, name), { after, limit: 100 });
      for (const o of page.objects) {
        const number = versionFromKey(o.key);
        newest = Math.max(newest, number);
        if (number <= floor) return { found: null, newest };
        const record = await readJson<ModelVersion>(this.store, o.key);
        if (record?.source.type === 'schedule' && record.source.job_id === jobId) return { found: record, newest };
      }
      if (!page.next) return { found: null, newest };
      after = page.next;
    }
  }

  private async tryCreate(tenant: string, name: string, version: number, file: FileObject, source: VersionSource): Promise<ModelVersion | null> {
    const record: ModelVersion = {
      object: 'model_version',
      lineage: name,
      version,
      file: file.id,
      sha256: file.sha256,
      created_at: new Date().toISOString(),
      source,
    };
    try {
      await this.store.put(layout.lineageVersion(tenant, name, version), toJson(record), { ifAbsent: true, contentType: 'application/json' });
      return record;
    } catch (err) {
      if (err instanceof ObjectStoreError && err.code === 'exists') return null;
      throw err;
    }
  }

  private async ensureLineage(tenant: string, name: string): Promise<void> {
    const record: LineageRecord = { name, created_at: new Date().toISOString() };
    await putIfAbsent(this.store, layout.lineageRecord(tenant, name), record);
    await putIfAbsent(this.store, layout.lineageIndexEntry(tenant, name), {});
  }

  private async readyModel(tenant: string, fileId: string): Promise<FileObject> {
    const file = await this.files.get(tenant, fileId);
    if (file.purpose !== 'model') throw new ApiError('invalid_request', `file ${fileId} (${file.name}) is a ${file.purpose} file; lineages hold models`, { field: 'file' });
    if (file.status !== 'ready') throw new ApiError('file_not_ready', `file ${fileId} (${file.name}) is not completed; complete its upload first`, { field: 'file' });
    return file;
  }
}

export async function putIfAbsent(store: ObjectStore, key: string, value: unknown): Promise<boolean> {
  try {
    await store.put(key, toJson(value), { ifAbsent: true, contentType: 'application/json' });
    return true;
  } catch (err) {
    if (err instanceof ObjectStoreError && err.code === 'exists') return false;
    throw err;
  }
}
