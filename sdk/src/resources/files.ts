/** client.files: uploads (presigned or streamed through the API), metadata and downloads. */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HttpClient } from '../core/http.ts';
import { type UploadSource, prepareUpload } from '../core/uploads.ts';
import { PagedList } from '../core/pagination.ts';
import type { CreateFileInput, CreateFileResult, DeletedFile, DownloadLink, FileObject, FilePurpose, ListPage } from '../core/types.ts';

export interface UploadOptions {
  purpose: FilePurpose;
  /** Defaults to the path's file name; required for bytes and streams. */
  name?: string;
  /** Required for streams. */
  size?: number;
  /** Explicit architecture of a model file (else from `__metadata__.arch` or inferred). */
  arch?: CreateFileInput['arch'];
}

export class Files {
  constructor(private readonly http: HttpClient) {}

  create(input: CreateFileInput): Promise<CreateFileResult> {
    return this.http.json({ method: 'POST', path: '/v1/files', json: input });
  }

  retrieve(id: string): Promise<FileObject> {
    return this.http.json({ method: 'GET', path: `/v1/files/${encodeURIComponent(id)}` });
  }

  /** Newest first; await it for one page or iterate it for all files. */
  list(params: { purpose?: FilePurpose; status?: FileObject['status']; limit?: number } = {}): PagedList<FileObject> {
    return new PagedList((after) =>
      this.http.json<ListPage<FileObject>>({ method: 'GET', path: '/v1/files', query: { limit: params.limit, purpose: params.purpose, status: params.status, after } }),
    );
  }

  /** Deletes the bytes and the record; a ConflictError (file_in_use) while an unfinished job or a lineage version uses it. */
  delete(id: string): Promise<DeletedFile> {
    return this.http.json({ method: 'DELETE', path: `/v1/files/${encodeURIComponent(id)}` });
  }

  complete(id: string): Promise<FileObject> {
    return this.http.json({ method: 'POST', path: `/v1/files/${encodeURIComponent(id)}/complete`, json: {} });
  }

  /**
   * Creates the file, sends its bytes where the API says (a presigned URL, or
   * the API's streaming endpoint) and completes it; returns the ready file.
   */
  async upload(source: UploadSource, options: UploadOptions): Promise<FileObject> {
    const prepared = await prepareUpload(source, options.size);
    const name = options.name ?? prepared.name;
    if (!name) throw new TypeError('uploading bytes or a stream needs options.name');
    const { file, upload } = await this.create({ name, purpose: options.purpose, size: prepared.size, ...(options.arch ? { arch: options.arch } : {}) });
    const headers = { ...upload.headers, 'content-length': String(prepared.size), ...(upload.via_api ? this.http.authHeaders() : {}) };
    const attempts = prepared.replayable ? 3 : 1;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.http.fetch(upload.url, { method: 'PUT', headers, body: prepared.body(), duplex: 'half' } as RequestInit);
      } catch (err) {
        if (attempt >= attempts) throw err;
        continue;
      }
      if (response.ok) {
        await response.body?.cancel();
        break;
      }
      if ((response.status === 429 || response.status >= 500) && attempt < attempts) {
        await response.body?.cancel();
        continue;
      }
      throw await this.http.errorFrom(response, { method: 'PUT', path: upload.via_api ? `/v1/files/${file.id}/content` : 'presigned upload URL' });
    }
    return this.complete(file.id);
  }

  downloadLink(id: string): Promise<DownloadLink> {
    return this.http.json({ method: 'GET', path: `/v1/files/${encodeURIComponent(id)}/download` });
  }

  /** The file's bytes in memory. */
  async download(id: string): Promise<Uint8Array> {
    return downloadBytes(this.http, await this.downloadLink(id));
  }

  /** Streams the file to `path` without holding it in memory. */
  async downloadTo(id: string, path: string): Promise<void> {
    await downloadToPath(this.http, await this.downloadLink(id), path);
  }
}

async function openLink(http: HttpClient, link: DownloadLink): Promise<Response> {
  const response = await http.fetch(link.url, { headers: link.via_api ? http.authHeaders() : {} });
  if (!response.ok) throw await http.errorFrom(response, { method: 'GET', path: link.via_api ? new URL(link.url).pathname : 'presigned download URL' });
  return response;
}

export async function downloadBytes(http: HttpClient, link: DownloadLink): Promise<Uint8Array> {
  return new Uint8Array(await (await openLink(http, link)).arrayBuffer());
}

export async function downloadToPath(http: HttpClient, link: DownloadLink, path: string): Promise<void> {
  const response = await openLink(http, link);
  await pipeline(Readable.fromWeb(response.body as never), createWriteStream(path));
}
