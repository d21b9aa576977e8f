#!/usr/bin/env node
// `npm run test:radosgw`: the S3 fidelity run. The S3-facing tests (store
// conformance, presigned URLs, file upload/download through the API, the
// scale-out e2e tests, the S3 fault tests) run against a one-node Ceph
// radosgw, a server that checks SigV4 signatures, Content-Length and expiry,
// instead of s3rver, which checks none of them (README, S3 fidelity).
// testsupport/radosgw.mjs starts and stops the cluster; CLAFUSION_TEST_S3
// tells the vitest globalSetup to use it.
//
// Missing Debian packages (Ceph, redis-server) are installed with apt-get
// when running as root (CI, containers); otherwise the exact command is
// printed and the script fails. Extra arguments go to vitest
// (e.g. `npm run test:radosgw -- -t presigned`).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RADOSGW_APT_COMMAND, missingRadosgwBinaries } from '../testsupport/radosgw.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const CEPH_PACKAGES = RADOSGW_APT_COMMAND.split(' ').filter((w) => !w.startsWith('-') && !['apt-get', 'install'].includes(w));
const needCeph = missingRadosgwBinaries().length > 0;
const needRedis = !existsSync('/usr/bin/redis-server');
const missing = [...(needCeph ? CEPH_PACKAGES : []), ...(needRedis ? ['redis-server'] : [])];

if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    console.error(
      `The radosgw tests need these Debian packages: ${missing.join(' ')}\n` +
        `Install them with: sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`,
    );
    process.exit(1);
  }
  const run = (cmd, args) => {
    console.error(`$ ${cmd} ${args.join(' ')}`);
    const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) process.exit(r.status ?? 1);
  };
  run('apt-get', ['update', '-q']);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing]);
}

/**
 * The test files that talk to the run's S3 server: every *.test.ts that calls
 * s3Endpoint()/s3Client() from testsupport/servers.ts. Today: the S3 store's
 * conformance, specifics, signature and fault tests, the service S3 fault
 * and crash-during-upload tests, the scale-out e2e tests (presigned uploads,
 * redirects to presigned downloads, runners on S3), the API bundle test, and
 * the test-server and fault-proxy checks. New S3 tests are picked up the same way.
 */
const ROOTS = ['api', 'sdk', 'gpu-runner', 'test', 'infra/test', 'testsupport'];
const USES_S3 = /\b(s3Endpoint|s3Client|s3ClientConfig|s3rverClient|s3rverClientConfig)\(/;
function testFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : testFiles(path);
    return e.name.endsWith('.test.ts') ? [path] : [];
  });
}
const files = ROOTS.flatMap(testFiles)
  .filter((f) => USES_S3.test(readFileSync(f, 'utf8')))
  .sort();

console.error(`S3 fidelity run on radosgw: ${files.length} test files\n  ${files.join('\n  ')}`);
const started = Date.now();
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const r = spawnSync(process.execPath, [vitest, 'run', ...files, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, CLAFUSION_TEST_S3: 'radosgw' },
});
console.error(`test:radosgw finished in ${((Date.now() - started) / 1000).toFixed(0)} s (exit ${r.status ?? r.signal})`);
process.exit(r.status ?? 1);
