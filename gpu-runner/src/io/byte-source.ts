/**
 * Reads the first bytes of a file that may be gzipped (detected by the gzip
 * magic 1f 8b, not by the file name). Dataset readers read a header first and
 * then exactly the bytes the header and `limit` call for, so loading the first
 * 100 images of a 47 MB set decompresses a few kilobytes, and a hostile header
 * never makes us read (or allocate) more than a bound we chose.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { FusionError } from '@clafusion/model-format/errors';

export interface FilePrefix {
  /** At most `maxBytes` bytes from the start of the (decompressed) content. */
  bytes: Uint8Array;
  /** True when `bytes` is the whole content: the file ended within `maxBytes`. */
  complete: boolean;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Opens a file, turning "not there / not a file / not readable" into an error a CLI user can act on. */
async function openForReading(path: string) {
  try {
    return await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FusionError('INVALID_ARGUMENT', `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
      path,
    });
  }
}

async function isGzipped(path: string): Promise<boolean> {
  const handle = await openForReading(path);
  try {
    const head = new Uint8Array(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

async function readPlainPrefix(path: string, maxBytes: number): Promise<FilePrefix> {
  const handle = await openForReading(path);
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const bytes = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(bytes, filled, length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { bytes: bytes.subarray(0, filled), complete: size <= maxBytes };
  } finally {
    await handle.close();
  }
}

async function readGzipPrefix(path: string, maxBytes: number): Promise<FilePrefix> {
  const chunks: Buffer[] = [];
  let total = 0;
  let complete = true;
  const stream = createReadStream(path).pipe(createGunzip());
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.byteLength;
      if (total > maxBytes) {
        complete = false;
        break; // leaving the loop destroys the stream, so the rest is never inflated
      }
    }
  } catch (err) {
    throw new FusionError('MALFORMED_FILE', `${path}: gzip data is corrupt (${(err as Error).message})`, { path });
  }
  const all = Buffer.concat(chunks, total);
  return { bytes: new Uint8Array(all.buffer, all.byteOffset, Math.min(total, maxBytes)), complete };
}

/** Reads up to `maxBytes` bytes of the file's content, inflating it if it is gzipped. */
export async function readFilePrefix(path: string, maxBytes: number): Promise<FilePrefix> {
  return (await isGzipped(path)) ? readGzipPrefix(path, maxBytes) : readPlainPrefix(path, maxBytes);
}
