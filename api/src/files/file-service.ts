/**
 * Files: create an upload, receive its bytes (streamed through the API when
 * the store cannot presign), complete it (validate the header, record size,
 * sha256 and architecture), describe it, and hand out download links.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FusionError } from '@clafusion/model-format/errors';
import type { CreateFileInput, CreateFileResult, DownloadLink, FileObject, StoredFile } from '@clafusion/contract';
import { ApiError, notFound } from '../errors.ts';
import { contentDisposition } from '../http/content-disposition.ts';
import { newId } from '../ids.ts';
import { readJson, toJson } from '@clafusion/contract/job-log';
import { type ObjectStore, ObjectStoreError } from '@clafusion/contract/ports';
import { layout } from '@clafusion/contract/store-layout';
import { assertFilesLive } from '../lifecycle/file-guard.ts';
import { lifecycleKeys } from '@clafusion/contract/lifecycle-keys';
import { KeyedLock } from '../storage/keyed-lock.ts';
import { withLabelRange } from './label-range.ts';
import { readStoredHeader } from './read-header.ts';
import { readStoredModelHeader } from './read-model-header.ts';
import { summarizeDataset, summarizeModel } from './validate-upload.ts';

export type { StoredFile };

export interface FileServiceOptions {
  maxUploadBytes: number;
  /** Lifetime of presigned upload and download URLs. */
  presignSeconds: number;
}

export function publicFile(stored: StoredFile): FileObject {
  const { arch_override: _, ...file } = stored;
  return file;
}

function invalidFile(err: FusionError, name: string): ApiError {
  return new ApiError('invalid_file', `${name}: ${err.message}`, { engine_code: err.code, ...err.details });
}

export class FileService {
  /**
   * Uploads streaming through this process, per file, and a lock that
   * orders "start an upload" against "complete". Without them an upload
   * still streaming when the file was completed would rename its bytes over
   * the content of the now-ready file: `ready` with one sha256 and
   * architecture, serving and fusing another model's bytes. Per process: the
   * folder store streams uploads through the one API process that owns the
   * folder. (Presigned S3 uploads never pass through here.)
   */
  private readonly receiving = new Map<string, number>();
  private readonly transitions = new KeyedLock();

  constructor(
    private readonly store: ObjectStore,
    private readonly options: FileServiceOptions,
  ) {}

  async create(tenant: string, input: CreateFileInput, apiBaseUrl: string): Promise<CreateFileResult> {
    if (input.size > this.options.maxUploadBytes) {
      throw new ApiError('payload_too_large', `size ${input.size} is above the upload limit of ${this.options.maxUploadBytes} bytes`, {
        field: 'size',
        limit: this.options.maxUploadBytes,
      });
    }
    const now = new Date();
    const id = newId('file', now);
    const stored: StoredFile = {
      id,
      object: 'file',
      name: input.name,
      purpose: input.purpose,
      status: 'pending',
      size: input.size,
      sha256: null,
      created_at: now.toISOString(),
      completed_at: null,
      model: null,
      dataset: null,
      arch_override: input.arch ?? null,
    };
    await this.store.put(layout.fileRecord(tenant, id), toJson(stored), { ifAbsent: true, contentType: 'application/json' });
    // Lets the retention sweeper find uploads never completed (lifecycle/file-lifecycle.ts).
    await this.store.put(lifecycleKeys.pendingFile(tenant, id), toJson({}), { contentType: 'application/json' });
    const presigned = await this.store.presignPut(layout.fileContent(tenant, id), {
      expiresInSeconds: this.options.presignSeconds,
      contentLength: input.size,
    });
    const upload = presigned
      ? {
          method: 'PUT' as const,
          url: presigned,
          headers: { 'content-type': 'application/octet-stream' },
          via_api: false,
          expires_at: new Date(now.getTime() + this.options.presignSeconds * 1000).toISOString(),
        }
      : {
          method: 'PUT' as const,
          url: `${apiBaseUrl}/v1/files/${id}/content`,
          headers: { 'content-type': 'application/octet-stream' },
          via_api: true,
          expires_at: null,
        };
    return { file: publicFile(stored), upload };
  }

  async stored(tenant: string, id: string): Promise<StoredFile> {
    const stored = await readJson<StoredFile>(this.store, layout.fileRecord(tenant, id));
    if (!stored) throw notFound('file', id);
    return stored;
  }

  async get(tenant: string, id: string): Promise<FileObject> {
    return publicFile(await this.stored(tenant, id));
  }

  /**
   * Streams an upload into the store, never holding it in memory. The body
   * may not exceed the size declared at creation; a Content-Length above it
   * is refused before anything is read.
   */
  async receive(tenant: string, id: string, body: Readable, contentLength: number | null): Promise<void> {
    const lockKey = layout.fileRecord(tenant, id);
    const tooLarge = (file: StoredFile) =>
      new ApiError('payload_too_large', `The upload is larger than the ${file.size} bytes declared for file ${id}`, { id, limit: file.size });
    // "Still pending" and registering the upload happen in one step: a complete() either ran before (and we refuse) or sees us.
    const file = await this.transitions.run(lockKey, async () => {
      const file = await this.stored(tenant, id);
      if (file.status !== 'pending') {
        throw new ApiError('file_already_completed', `File ${id} is already completed; create a new file to upload other bytes`, { id });
      }
      if (contentLength !== null && contentLength > file.size) throw tooLarge(file);
      this.receiving.set(lockKey, (this.receiving.get(lockKey) ?? 0) + 1);
      return file;
    });
    try {
      await this.store.put(layout.fileContent(tenant, id), body, { maxBytes: file.size, contentType: 'application/octet-stream' });
    } catch (err) {
      if (err instanceof ObjectStoreError && err.code === 'too_large') throw tooLarge(file);
      // The request body itself failed: the client went away (or its connection broke) mid-upload.
      // Nothing was stored and the file stays pending; that is the client's doing, not an internal error.
      if (!(err instanceof ObjectStoreError) && body.errored) {
        throw new ApiError('invalid_request', `The upload of file ${id} was cut off before its end; nothing was stored, upload it again`, { id });
      }
      throw err;
    } finally {
      const left = (this.receiving.get(lockKey) ?? 1) - 1;
      if (left > 0) this.receiving.set(lockKey, left);
      else this.receiving.delete(lockKey);
    }
  }

  /**
   * Validates the uploaded bytes from their header and marks the file ready.
   * Completing a ready file again returns it unchanged.
   */
  async complete(tenant: string, id: string): Promise<FileObject> {
    const lockKey = layout.fileRecord(tenant, id);
    return this.transitions.run(lockKey, async () => {
      const file = await this.stored(tenant, id);
      if (file.status === 'ready') return publicFile(file);
      // The content may still change under an upload in progress: validating it now could record bytes that are about to be replaced.
      if ((this.receiving.get(lockKey) ?? 0) > 0) {
        throw new ApiError('file_not_ready', `An upload of file ${id} is still in progress; complete the file once it has finished`, { id });
      }
      return this.completePending(tenant, id, file);
    });
  }

  private async completePending(tenant: string, id: string, file: StoredFile): Promise<FileObject> {
    const key = layout.fileContent(tenant, id);
    const info = await this.store.head(key);
    if (!info) throw new ApiError('file_not_ready', `File ${id} has no uploaded bytes yet; PUT them to the upload URL first`, { id });
    if (info.size !== file.size) {
      throw new ApiError('invalid_request', `File ${id} was declared as ${file.size} bytes but ${info.size} were uploaded`, {
        id,
        declared: file.size,
        uploaded: info.size,
      });
    }
    let summary: Pick<FileObject, 'model' | 'dataset'>;
    try {
      if (file.purpose === 'model') {
        summary = { model: summarizeModel(await readStoredModelHeader(this.store, key, info.size), file.arch_override ?? undefined), dataset: null };
      } else {
        const header = await readStoredHeader(this.store, key, info.size);
        summary = { model: null, dataset: await withLabelRange(summarizeDataset(header, file.name), this.store, key, header) };
      }
    } catch (err) {
      if (err instanceof FusionError) throw invalidFile(err, file.name);
      throw err;
    }
    const sha256 = info.sha256 ?? (await this.hash(key));
    const ready: StoredFile = { ...file, ...summary, status: 'ready', sha256, completed_at: new Date().toISOString() };
    await this.store.put(layout.fileRecord(tenant, id), toJson(ready), { contentType: 'application/json' });
    // A sweep of expired uploads may have started on this file meanwhile: it wrote its tombstone before reading the record.
    await assertFilesLive(this.store, tenant, [id]);
    await this.store.delete(lifecycleKeys.pendingFile(tenant, id));
    return publicFile(ready);
  }

  /** Streams the object through SHA-256 (presigned uploads bypass the API, so nobody hashed them on the way in). */
  private async hash(key: string): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of await this.store.get(key)) hash.update(chunk as Uint8Array);
    return hash.digest('hex');
  }

  async downloadLink(tenant: string, id: string, apiBaseUrl: string): Promise<DownloadLink> {
    const file = await this.stored(tenant, id);
    if (file.status !== 'ready') throw new ApiError('file_not_ready', `File ${id} is not completed yet`, { id });
    return this.linkFor(layout.fileContent(tenant, id), `${apiBaseUrl}/v1/files/${id}/content`, file.name);
  }

  /** A download link for `key`; a presigned one answers with `name` as its Content-Disposition, as the API's own route does. */
  async linkFor(key: string, apiUrl: string, name: string): Promise<DownloadLink> {
    const url = await this.store.presignGet(key, { expiresInSeconds: this.options.presignSeconds, contentDisposition: contentDisposition('attachment', name) });
    if (url) return { url, via_api: false, expires_at: new Date(Date.now() + this.options.presignSeconds * 1000).toISOString() };
    return { url: apiUrl, via_api: true, expires_at: null };
  }
}
