/**
 * The object-store port: where model files, datasets, job records, events and
 * outputs live. Two adapters implement it (a local folder, the embedded
 * default; S3 through @aws-sdk/client-s3 for any S3-compatible endpoint), and
 * one conformance suite runs against both.
 *
 * Keys are `/`-separated paths made by the service, never by users directly;
 * adapters still reject keys that could escape their root (`..`, absolute
 * paths, empty segments, control characters). Both adapters accept exactly
 * the same keys (api/src/storage/keys.ts): segments start with a letter or
 * digit and use ASCII letters, digits and `._-=+@,:`; at most 1024 characters.
 * `list` cursors (`after`/`next`) are plain keys.
 *
 * Atomicity: an object becomes visible only once it is completely written;
 * readers never see a partial object under its final key.
 */
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  size: number;
  /** Hex SHA-256 of the content when the adapter knows it (recorded at put). */
  sha256?: string;
  contentType?: string;
  lastModified: Date;
}

export interface PutOptions {
  contentType?: string;
  /** Refuse bodies larger than this many bytes (the upload is aborted, nothing becomes visible). */
  maxBytes?: number;
  /** Only create: fail with `exists` when the key is already present (used for idempotency records). */
  ifAbsent?: boolean;
}

export interface PutResult {
  key: string;
  size: number;
  sha256: string;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** Pass as `after` to get the next page; absent on the last page. */
  next?: string;
}

export type ObjectStoreErrorCode = 'not_found' | 'exists' | 'too_large' | 'invalid_key' | 'unavailable';

export class ObjectStoreError extends Error {
  constructor(
    readonly code: ObjectStoreErrorCode,
    message: string,
    readonly key?: string,
    /**
     * The system error code behind an `unavailable` (ENOSPC, EIO, EACCES…)
     * when the adapter knows it, so the API can tell "disk full" (507) from
     * "store unreachable" (503).
     */
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'ObjectStoreError';
  }
}

export interface ObjectStore {
  /** Streams (or writes) a body under `key`, hashing it on the way. */
  put(key: string, body: Uint8Array | Readable, options?: PutOptions): Promise<PutResult>;
  /** The whole object as a stream; `not_found` if absent. */
  get(key: string): Promise<Readable>;
  /** The whole object in memory (small objects: records, reports). */
  getBytes(key: string): Promise<Uint8Array>;
  /** Bytes [start, end) of an object, e.g. a safetensors header. */
  getRange(key: string, start: number, end: number): Promise<Uint8Array>;
  /** Metadata, or null if absent. */
  head(key: string): Promise<ObjectInfo | null>;
  delete(key: string): Promise<void>;
  /** Keys under a prefix in lexicographic order, paginated. */
  list(prefix: string, options?: { after?: string; limit?: number }): Promise<ListPage>;
  /**
   * A URL the client can PUT the body to directly, or null when the store
   * cannot presign (the local folder: uploads then stream through the API).
   */
  presignPut(key: string, options: { expiresInSeconds: number; contentLength?: number }): Promise<string | null>;
  /**
   * A URL to GET the object directly, or null when the store cannot presign.
   * `contentDisposition` (an ASCII header value) is what the download answers
   * with, so a presigned download names the file as a streamed one does.
   */
  presignGet(key: string, options: { expiresInSeconds: number; contentDisposition?: string }): Promise<string | null>;
}
