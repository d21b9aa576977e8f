/**
 * vitest globalSetup: ONE redis-server and ONE s3rver for the whole test run,
 * shared by every test file (which use unique queue names, buckets and key
 * prefixes). Tests read the addresses with `inject('redisUrl')` and
 * `inject('s3Endpoint')` (and the S3 keys with `inject('s3Credentials')`),
 * or through testsupport/servers.ts.
 *
 * With CLAFUSION_TEST_S3=radosgw (`npm run test:radosgw`) the S3 server is a
 * one-node Ceph radosgw that checks signatures (testsupport/radosgw.mjs).
 *
 * The servers live in a supervisor child process (servers.mjs); see there
 * for why, and for how they stop even if vitest itself is killed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    s3Endpoint: string;
    /** The keys of the run's S3 user (s3rver: S3RVER/S3RVER; radosgw: generated). */
    s3Credentials: { accessKeyId: string; secretAccessKey: string };
    /** Which server s3Endpoint is: s3rver does not check signatures, radosgw does. */
    s3Server: 's3rver' | 'radosgw';
  }
}

type Ready =
  | { redisUrl: string; s3Endpoint: string; s3Credentials: { accessKeyId: string; secretAccessKey: string }; s3Server: 's3rver' | 'radosgw' }
  | { error: string };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const child = fork(fileURLToPath(new URL('./servers.mjs', import.meta.url)), [], {
    execArgv: ['--openssl-legacy-provider'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // A one-node Ceph cluster takes ~15 s to start (more on a busy machine); s3rver and redis well under 1 s.
  const startSeconds = process.env.CLAFUSION_TEST_S3 === 'radosgw' ? 150 : 20;
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The test servers did not start within ${startSeconds} s`)), startSeconds * 1000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as Ready);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The test-server supervisor exited with ${code}`));
    });
  }).catch(async (e: unknown) => {
    await stopChild(child);
    throw e;
  });
  if ('error' in ready) {
    await stopChild(child);
    throw new Error(`The test servers failed to start: ${ready.error}`);
  }
  project.provide('redisUrl', ready.redisUrl);
  project.provide('s3Endpoint', ready.s3Endpoint);
  project.provide('s3Credentials', ready.s3Credentials);
  project.provide('s3Server', ready.s3Server);
  return () => stopChild(child);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
