/**
 * Upload sources: a file path, bytes, or a Node stream. Paths and streams
 * are sent as streams (never read whole into memory); the API needs the size
 * up front, so a stream must come with one.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';

export type UploadSource = string | Uint8Array | Readable;

export interface PreparedUpload {
  size: number;
  name: string | null;
  /** A fresh body per call, so a failed PUT of bytes can be retried. */
  body(): NonNullable<RequestInit['body']>;
  /** Streams cannot be replayed. */
  replayable: boolean;
}

export async function prepareUpload(source: UploadSource, size?: number): Promise<PreparedUpload> {
  if (typeof source === 'string') {
    const info = await stat(source);
    return {
      size: info.size,
      name: basename(source),
      body: () => Readable.toWeb(createReadStream(source)) as unknown as ReadableStream,
      replayable: true,
    };
  }
  if (source instanceof Uint8Array) {
    return { size: source.byteLength, name: null, body: () => source as unknown as NonNullable<RequestInit['body']>, replayable: true };
  }
  if (size === undefined) throw new TypeError('uploading a stream needs its size in bytes (options.size)');
  let used = false;
  return {
    size,
    name: null,
    body: () => {
      if (used) throw new TypeError('a stream can only be uploaded once');
      used = true;
      return Readable.toWeb(source) as unknown as ReadableStream;
    },
    replayable: false,
  };
}
