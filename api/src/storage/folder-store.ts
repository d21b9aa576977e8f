import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import {
  ObjectStoreError,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from '@clafusion/contract/ports';
import { checkRange, MeteredBody, readAll } from './body.ts';
import { assertValidContentType, assertValidKey, assertValidPrefix } from './keys.ts';

export interface FolderStoreOptions {
  /** The folder that holds the objects; created when missing. */
  root: string;
  /**
   * fsync each object (and its folder) before it becomes visible, so a power
   * loss cannot leave a complete-looking but empty file. Default true.
   */
  fsync?: boolean;
  /**
   * Staging files older than this are removed on the first put (left by a
   * crash). Default 24 h. Staging files of processes on this host that are
   * gone (a crash, SIGKILL) are removed on the first put whatever their age.
   */
  staleStagingMs?: number;
}

/**
 * Each object is one file, `<root>/<key>~obj`, made of a fixed 512-byte
 * header (JSON metadata padded with spaces) followed by the content.
 *
 * Why a header rather than a sidecar file: an overwrite must replace content
 * and metadata together. Two files cannot be renamed atomically as a pair, so
 * a reader could see the new sha256 next to the old bytes. One file replaced
 * by one rename(2) cannot mix versions, and a reader that opened the file
 * keeps reading the version it opened.
 *
 * Why the `~obj` suffix: S3 allows both `a` and `a/b` as keys, a filesystem
 * cannot have a file and a folder both named `a`. Keys never contain `~`
 * (see keys.ts), so object files and key folders can never collide.
 */
const HEADER_BYTES = 512;
const SUFFIX = '~obj';
const STAGING = '.staging';
const MAX_LIST_LIMIT = 1000;

interface Header {
  size: number;
  sha256: string;
  contentType?: string;
}

export class FolderStore implements ObjectStore {
  readonly root: string;
  private readonly fsync: boolean;
  private readonly staleStagingMs: number;
  private sweep: Promise<void> | undefined;

  constructor(options: FolderStoreOptions) {
    this.root = resolve(options.root);
    this.fsync = options.fsync ?? true;
    this.staleStagingMs = options.staleStagingMs ?? 24 * 3600_000;
  }

  async put(key: string, body: Uint8Array | Readable, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    assertValidContentType(options.contentType);
    const meter = new MeteredBody(body, key, options.maxBytes);
    const staging = join(this.root, STAGING);
    await mkdir(staging, { recursive: true }).catch((e) => rethrowFs(e, key));
    this.sweep ??= this.sweepStaging(staging);
    await this.sweep;

    // The staging folder is inside the root, so the final rename/link never
    // crosses filesystems (which would make it a non-atomic copy).
    const tmp = join(staging, stagingName());
    let fh: FileHandle | undefined;
    try {
      fh = await open(tmp, 'wx', 0o644);
      let position = HEADER_BYTES;
      for await (const chunk of meter.chunks()) {
        await writeFully(fh, chunk, position);
        position += chunk.byteLength;
      }
      const header: Header = { size: meter.size, sha256: meter.sha256(), contentType: options.contentType };
      await writeFully(fh, encodeHeader(header), 0);
      if (this.fsync) await fh.sync();
      await fh.close();
      fh = undefined;

      const target = this.pathOf(key);
      await mkdir(dirname(target), { recursive: true });
      if (options.ifAbsent) {
        // link(2) fails with EEXIST when the target exists: an atomic
        // create-if-absent, so of two racing creates exactly one wins.
        try {
          await link(tmp, target);
        } catch (e) {
          if (errnoCode(e) === 'EEXIST') throw new ObjectStoreError('exists', `Object already exists: ${key}`, key);
          throw e;
        }
        await unlink(tmp);
      } else {
        await rename(tmp, target);
      }
      if (this.fsync) await syncDir(dirname(target));
      return { key, size: header.size, sha256: header.sha256 };
    } catch (e) {
      await fh?.close().catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined);
      // A body we stopped reading early must not keep its source (a socket) open.
      if (!(body instanceof Uint8Array)) body.destroy();
      return rethrowFs(e, key);
    }
  }

  async get(key: string): Promise<Readable> {
    const { fh } = await this.openObject(key);
    // The stream owns the handle from here on and closes it when done.
    return fh.createReadStream({ start: HEADER_BYTES });
  }

  async getBytes(key: string): Promise<Uint8Array> {
    return readAll(await this.get(key));
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    checkRange(start, end);
    const { fh, header } = await this.openObject(key);
    try {
      const to = Math.min(end, header.size);
      if (start >= to) return new Uint8Array(0);
      const out = Buffer.alloc(to - start);
      let done = 0;
      while (done < out.length) {
        const { bytesRead } = await fh.read(out, done, out.length - done, HEADER_BYTES + start + done);
        if (bytesRead === 0) throw new ObjectStoreError('unavailable', `Object file is truncated: ${key}`, key);
        done += bytesRead;
      }
      return out;
    } catch (e) {
      return rethrowFs(e, key);
    } finally {
      await fh.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    let opened: { fh: FileHandle; header: Header };
    try {
      opened = await this.openObject(key);
    } catch (e) {
      if (e instanceof ObjectStoreError && e.code === 'not_found') return null;
      throw e;
    }
    const { fh, header } = opened;
    try {
      const st = await fh.stat();
      return { key, size: header.size, sha256: header.sha256, contentType: header.contentType, lastModified: st.mtime };
    } catch (e) {
      return rethrowFs(e, key);
    } finally {
      await fh.close();
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    // Empty key folders are left in place: removing them would race with a
    // concurrent put that just created the folder for its rename.
    await unlink(this.pathOf(key)).catch((e) => {
      if (errnoCode(e) !== 'ENOENT') rethrowFs(e, key);
    });
  }

  async list(prefix: string, options: { after?: string; limit?: number } = {}): Promise<ListPage> {
    assertValidPrefix(prefix);
    const limit = options.limit ?? MAX_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new RangeError(`list limit must be an integer from 1 to ${MAX_LIST_LIMIT}, got ${limit}`);
    }
    const keys: string[] = [];
    let more = false;
    // Every key under the prefix lies in the folder its last `/` names: start
    // there, not at the root, so listing one job's events does not read the
    // folder of every job (a cost that grew with the number of jobs).
    for await (const key of this.walk(prefix.slice(0, prefix.lastIndexOf('/') + 1), prefix, options.after)) {
      if (keys.length === limit) {
        more = true;
        break;
      }
      keys.push(key);
    }
    // An object deleted between the walk and its head() is simply left out.
    const infos = await Promise.all(keys.map((key) => this.head(key)));
    return {
      objects: infos.filter((info): info is ObjectInfo => info !== null),
      next: more ? keys[keys.length - 1] : undefined,
    };
  }

  /** The folder store has no URLs: uploads and downloads stream through the API. */
  async presignPut(): Promise<string | null> {
    return null;
  }

  async presignGet(): Promise<string | null> {
    return null;
  }

  private pathOf(key: string): string {
    // Safe to join: assertValidKey has ruled out `..`, absolute paths, `\` and empty segments.
    return join(this.root, ...key.split('/')) + SUFFIX;
  }

  private async openObject(key: string): Promise<{ fh: FileHandle; header: Header }> {
    assertValidKey(key);
    let fh: FileHandle;
    try {
      fh = await open(this.pathOf(key), 'r');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw new ObjectStoreError('not_found', `No such object: ${key}`, key);
      return rethrowFs(e, key);
    }
    try {
      const buf = Buffer.alloc(HEADER_BYTES);
      const { bytesRead } = await fh.read(buf, 0, HEADER_BYTES, 0);
      if (bytesRead !== HEADER_BYTES) throw new ObjectStoreError('unavailable', `Object file has no header: ${key}`, key);
      return { fh, header: JSON.parse(buf.toString('utf8')) as Header };
    } catch (e) {
      await fh.close();
      if (e instanceof SyntaxError) throw new ObjectStoreError('unavailable', `Object file has a corrupt header: ${key}`, key);
      return rethrowFs(e, key);
    }
  }

  /**
   * Yields keys under `prefix` greater than `after`, in lexicographic order.
   * Folders sort by `name + '/'`, objects by name, which makes the walk order
   * equal the order of the full keys (`a-b` < `a/b` because `-` < `/`).
   * Folders that cannot hold a matching key are not read at all.
   */
  private async *walk(dirKey: string, prefix: string, after: string | undefined): AsyncGenerator<string> {
    let entries;
    try {
      entries = await readdir(dirKey === '' ? this.root : join(this.root, ...dirKey.slice(0, -1).split('/')), { withFileTypes: true });
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      return rethrowFs(e, dirKey);
    }
    const items: { sortKey: string; isDir: boolean }[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory()) items.push({ sortKey: `${dirKey}${entry.name}/`, isDir: true });
      else if (entry.isFile() && entry.name.endsWith(SUFFIX)) items.push({ sortKey: dirKey + entry.name.slice(0, -SUFFIX.length), isDir: false });
    }
    items.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const { sortKey, isDir } of items) {
      if (isDir) {
        const underPrefix = sortKey.startsWith(prefix) || prefix.startsWith(sortKey);
        const pastAfter = after === undefined || after < sortKey || after.startsWith(sortKey);
        if (underPrefix && pastAfter) yield* this.walk(sortKey, prefix, after);
      } else if (sortKey.startsWith(prefix) && (after === undefined || sortKey > after)) {
        yield sortKey;
      }
    }
  }

  private async sweepStaging(staging: string): Promise<void> {
    const cutoff = Date.now() - this.staleStagingMs;
    const names = await readdir(staging).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(staging, name);
      // A process killed mid-put (an upload of hundreds of MB) leaves its
      // staging file behind; waiting a day to reclaim it can fill the disk.
      // Its writer's pid is in the name, so the file can go as soon as that
      // process is gone. Only for this host's processes (pids mean nothing
      // across hosts or containers that share the folder), and never our own.
      if (writerIsGone(name)) {
        await rm(path, { force: true }).catch(() => undefined);
        continue;
      }
      const st = await stat(path).catch(() => undefined);
      if (st && st.mtimeMs < cutoff) await rm(path, { force: true }).catch(() => undefined);
    }
  }
}

/** `<uuid>.<pid>.<hostname>`: unique, and names the process that writes it (see sweepStaging). */
function stagingName(): string {
  return `${randomUUID()}.${process.pid}.${hostname()}`;
}

function writerIsGone(name: string): boolean {
  const match = /^[0-9a-f-]{36}\.(\d+)\.(.+)$/.exec(name);
  if (!match || match[2] !== hostname()) return false;
  const pid = Number(match[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    // EPERM: the process exists (another user's). Only ESRCH means it is gone.
    return errnoCode(e) === 'ESRCH';
  }
}

function encodeHeader(header: Header): Buffer {
  const json = JSON.stringify(header);
  const buf = Buffer.alloc(HEADER_BYTES, 0x20);
  // keys.ts bounds the content type to 200 characters, so the JSON always fits.
  buf.write(json, 0, 'utf8');
  buf[HEADER_BYTES - 1] = 0x0a;
  return buf;
}

async function writeFully(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await fh.write(data, done, data.byteLength - done, position + done);
    done += bytesWritten;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/**
 * Filesystem failures (ENOSPC, EIO, EACCES…) become `unavailable`; errors
 * from the caller's body stream and ObjectStoreErrors pass through unchanged.
 */
function rethrowFs(e: unknown, key: string): never {
  if (e instanceof ObjectStoreError) throw e;
  if (typeof e === 'object' && e !== null && 'syscall' in e) {
    // The key is in the message too: a log line alone must say which object failed (and why: ENOSPC, EIO…).
    const errno = errnoCode(e);
    throw new ObjectStoreError('unavailable', `Storage failure (${errno ?? 'unknown'}) on ${key}: ${String((e as { message?: unknown }).message)}`, key, errno);
  }
  throw e;
}
