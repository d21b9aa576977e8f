#!/usr/bin/env node
// Test-server supervisor, started by global-setup.ts with an IPC channel and
// `--openssl-legacy-provider` (s3rver builds ListObjectsV2 continuation
// tokens with DES, which OpenSSL 3 refuses without it; keeping s3rver in its
// own process keeps that flag out of vitest and the test workers).
//
// It starts one redis-server (Debian package) on a free 127.0.0.1 port and
// one s3rver on 127.0.0.1:0, both with data under a fresh temp folder, and
// sends {redisUrl, s3Endpoint, s3Credentials, s3Server} to the parent. It
// stops both and removes the folder on SIGTERM, on a {stop:true} message, or
// when the IPC channel closes because vitest died: nothing outlives the test run.
//
// CLAFUSION_TEST_S3=radosgw starts a one-node Ceph radosgw instead of s3rver
// (testsupport/radosgw.mjs; `npm run test:radosgw`): a server that checks
// signatures, with credentials generated for the run.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { startRadosgw } from './radosgw.mjs';
import { guardFolderCleanup } from './s3rver-folder-guard.mjs';

/** Which S3 server to start: 's3rver' (default) or 'radosgw'. */
const S3_SERVER = process.env.CLAFUSION_TEST_S3 || 's3rver';
/** s3rver takes any secret for this key (it does not check signatures). */
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const dir = mkdtempSync(join(tmpdir(), 'clafusion-test-servers-'));
let redis;
let s3;
let radosgw;
let stopping;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function startRedis(port) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const timer = setTimeout(() => fail(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000);
    function fail(error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    }
    child.once('error', (e) =>
      fail(e.code === 'ENOENT' ? new Error('redis-server is not installed: apt-get install -y redis-server (npm test runs scripts/system-deps.mjs)') : e),
    );
    const onExit = (code) => fail(new Error(`redis-server exited with ${code}:\n${output}`));
    child.once('exit', onExit);
    child.stderr.on('data', (d) => (output += d));
    const onData = (d) => {
      output += d;
      if (!output.includes('Ready to accept connections')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      // Keep draining its log (a full pipe would block redis) without parsing it.
      child.stdout.off('data', onData);
      child.stdout.resume();
      child.stderr.resume();
      resolve(child);
    };
    child.stdout.on('data', onData);
  });
}

async function stop() {
  stopping ??= (async () => {
    await s3?.close().catch(() => undefined);
    await radosgw?.stop().catch(() => undefined);
    if (redis && redis.exitCode === null && redis.signalCode === null) {
      const exited = new Promise((resolve) => redis.once('exit', resolve));
      redis.kill('SIGTERM');
      const timer = setTimeout(() => redis.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  })();
  await stopping;
}

async function main() {
  if (S3_SERVER !== 's3rver' && S3_SERVER !== 'radosgw') {
    throw new Error(`CLAFUSION_TEST_S3 must be s3rver or radosgw, got ${JSON.stringify(S3_SERVER)}`);
  }
  // radosgw takes ~15 s to start: start it alongside redis.
  const rgwStarting = S3_SERVER === 'radosgw' ? startRadosgw({ log: (line) => console.error(line) }) : undefined;
  rgwStarting?.then((r) => (radosgw = r), () => undefined);
  try {
    await startAll(rgwStarting);
  } catch (e) {
    await rgwStarting?.catch(() => undefined);
    throw e;
  }
}

async function startAll(rgwStarting) {
  // A free port can be taken by someone else before redis binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      redis = await startRedis(await freePort());
      break;
    } catch (e) {
      if (attempt >= 3 || /not installed/.test(e.message)) throw e;
    }
  }
  const redisPort = redis.spawnargs[redis.spawnargs.indexOf('--port') + 1];
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  if (rgwStarting) {
    const rgw = await rgwStarting;
    process.send({ redisUrl, s3Endpoint: rgw.endpoint, s3Credentials: rgw.credentials, s3Server: 'radosgw' });
    return;
  }
  // s3rver answers ListBuckets with a 500 until its folder exists.
  mkdirSync(join(dir, 's3'));
  s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(dir, 's3') });
  guardFolderCleanup(s3.store);
  const { port: s3Port } = await s3.run();
  process.send({ redisUrl, s3Endpoint: `http://127.0.0.1:${s3Port}`, s3Credentials: S3RVER_CREDENTIALS, s3Server: 's3rver' });
}

const exitAfterStop = (code) => stop().finally(() => process.exit(code));
process.on('SIGTERM', () => exitAfterStop(0));
process.on('SIGINT', () => exitAfterStop(0));
process.on('disconnect', () => exitAfterStop(0));
process.on('message', (m) => m?.stop && exitAfterStop(0));
main().catch((e) => {
  process.send?.({ error: String(e?.message ?? e) });
  exitAfterStop(1);
});
