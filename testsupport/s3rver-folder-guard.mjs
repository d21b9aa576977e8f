// A guard for two races in s3rver 3.7's folder store (used by servers.mjs;
// tested in s3rver-folder-guard.test.ts).
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * s3rver keeps a key's prefix as folders: a delete removes the folders it
 * leaves empty, a put makes them and then writes its file. Two races follow,
 * and either kills the server process (ENOENT on a write stream with no error
 * listener), taking S3 away from every test after it; test:stress found it
 * with two lifecycle sweepers creating and releasing claims under one prefix:
 *
 * - a delete's folder cleanup between a put's mkdir and its file's open;
 * - a put of a Buffer body answers before its file is even open, so a delete
 *   of the same key right after finds nothing to unlink, removes the folder,
 *   and the late open fails.
 *
 * Here a put writes its file to the end (errors reported, not thrown) before
 * it answers, and a delete waits until no put is in flight while puts that
 * arrive meanwhile wait for it: a reader-writer lock, puts the readers, so
 * puts still run together.
 */
export function guardFolderCleanup(store) {
  const remove = store.deleteObject.bind(store);
  let puts = 0;
  const idle = []; // resolvers waiting for puts to reach 0
  let deleting = null; // the running delete, which new puts and deletes wait for

  // s3rver's putObject, except that it waits for its file and reports write errors.
  async function put(object) {
    const path = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(path), { recursive: true });
    const md5 = createHash('md5');
    let size = 0;
    const count = new Transform({
      transform(chunk, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    await pipeline(source, count, createWriteStream(path));
    const digest = md5.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  }

  store.putObject = async (object) => {
    while (deleting) await deleting;
    puts++;
    try {
      return await put(object);
    } finally {
      if (--puts === 0) for (const resolve of idle.splice(0)) resolve();
    }
  };
  store.deleteObject = async (bucket, key) => {
    while (deleting) await deleting;
    let finished;
    deleting = new Promise((resolve) => (finished = resolve));
    try {
      while (puts > 0) await new Promise((resolve) => idle.push(resolve));
      return await remove(bucket, key);
    } finally {
      deleting = null;
      finished();
    }
  };
}
