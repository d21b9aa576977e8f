/**
 * Crash-safe file replacement: the bytes go to a temporary file in the same
 * folder (so the final rename stays on one filesystem and is atomic), the
 * temporary file is fsynced, then renamed over the destination, and the folder
 * is fsynced so the rename itself survives a power loss. A reader therefore
 * sees either the old file or the complete new one, never a half-written one.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function atomicWriteFile(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx' refuses to follow or clobber an existing file under the temp name.
  const handle = await open(temp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/** Makes a rename durable. Some platforms (Windows) cannot open folders; there the rename is already as durable as it gets. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // EINVAL/EISDIR on filesystems that do not support syncing folders.
  } finally {
    await handle.close();
  }
}
