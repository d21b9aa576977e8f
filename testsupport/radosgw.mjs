#!/usr/bin/env node
// A one-node Ceph cluster with radosgw on loopback, for the S3 fidelity run
// (`npm run test:radosgw`, CLAFUSION_TEST_S3=radosgw): unlike s3rver, radosgw
// checks SigV4 signatures, Content-Length and expiry, so auth and presign
// mistakes show up. The whole recipe is in this file (1 mon + 1 memstore
// OSD + rgw, `auth * required = none` inside the cluster, pool size 1,
// 8 PGs; about 20 s to start).
//
//   const rgw = await startRadosgw();
//   rgw.endpoint      // http://127.0.0.1:<free port>
//   rgw.credentials   // { accessKeyId, secretAccessKey } of a user made for this run
//   await rgw.stop(); // kills the daemons, removes the temp folder
//
// Everything lives under one fresh temp folder (config, mon and OSD data,
// logs, sockets). Nothing outlives the process that started it:
// - stop() SIGTERMs the daemons (SIGKILL after 5 s) and removes the folder;
// - each daemon runs under `setpriv --pdeathsig SIGKILL`, so it dies with the
//   Node process that spawned it, even if that one is SIGKILLed;
// - a detached watchdog shell polls that Node process once a second and,
//   once it is gone, kills the PIDs listed in <dir>/pids and removes the
//   folder (it does nothing if stop() already removed it).
//
// Run directly (`node testsupport/radosgw.mjs`) it starts the cluster, prints
// the endpoint and credentials as JSON, and stops on Ctrl-C.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RADOSGW_APT_COMMAND = 'apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-mgr';

/** The programs the recipe runs; all come with the Debian packages above. */
export const RADOSGW_BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool', 'ceph-authtool'];

const BIN_DIRS = ['/usr/bin', '/usr/sbin', '/usr/local/bin'];
const which = (name) => BIN_DIRS.map((d) => join(d, name)).find((p) => existsSync(p));

/** The recipe's programs that are not installed ([] when all are). */
export function missingRadosgwBinaries() {
  return RADOSGW_BINARIES.filter((b) => !which(b));
}

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An access key like AWS's (20 chars, A-Z0-9) and a 40-char secret. */
function generateCredentials() {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const accessKeyId = Array.from(randomBytes(20), (b) => alphabet[b % alphabet.length]).join('');
  const secretAccessKey = randomBytes(30).toString('base64').replace(/[+/]/g, 'x');
  return { accessKeyId, secretAccessKey };
}

function cephConf(dir, fsid, monPort, rgwPort) {
  return `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
mon initial members = a
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 2147483648
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
pid file = ${dir}/run/$name.pid
keyring = ${dir}/keyring
ms bind ipv6 = false
ms bind msgr2 = false

[mon.a]
mon data = ${dir}/mon.a

[osd.0]
osd data = ${dir}/osd.0
# The recipe puts osd.0 into the CRUSH map itself (ceph osd crush add), so the
# OSD need not send its own CRUSH location and device class at start. It must
# not: those are its first mon commands, and Ceph 16's MonClient can send them
# before the mon's monmap arrives, with a zero fsid, which the mon refuses
# ('wrong fsid'), and the OSD exits (about 1 start in 5 on a 2-core machine).
osd crush update on start = false
osd class update on start = false

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
`;
}

/**
 * Starts the cluster and radosgw; resolves once radosgw answers HTTP 200 and
 * the S3 user exists. `log(line)` gets progress lines (default: none).
 */
export async function startRadosgw({ log = () => {}, timeoutMs = 120_000 } = {}) {
  const missing = missingRadosgwBinaries();
  if (missing.length > 0) {
    throw new Error(
      `Ceph radosgw is not installed (missing ${missing.join(', ')}). Install it with: ${RADOSGW_APT_COMMAND} ` +
        '(npm run test:radosgw does that itself when run as root)',
    );
  }
  const started = Date.now();
  const deadline = started + timeoutMs;
  const dir = mkdtempSync(join(tmpdir(), 'clafusion-radosgw-'));
  for (const sub of ['run', 'log', 'mon.a', 'osd.0', 'rgw']) mkdirSync(join(dir, sub));
  const pidsFile = join(dir, 'pids');
  writeFileSync(pidsFile, '');
  const conf = join(dir, 'ceph.conf');
  const daemons = [];
  const usePdeathsig = Boolean(which('setpriv'));
  const watchdog = startWatchdog(dir, pidsFile);
  let stopping;

  async function stop() {
    stopping ??= (async () => {
      // Reverse order: rgw, then the OSD, then the mon.
      for (const d of [...daemons].reverse()) await stopProcess(d.child, 5_000);
      rmSync(dir, { recursive: true, force: true });
      if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
    })();
    await stopping;
  }

  const remaining = () => Math.max(1_000, deadline - Date.now());

  function daemon(name, args) {
    const cmd = which(args[0]);
    const argv = usePdeathsig ? [which('setpriv'), ['--pdeathsig', 'SIGKILL', '--', cmd, ...args.slice(1)]] : [cmd, args.slice(1)];
    const child = spawn(argv[0], argv[1], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d) => (output = (output + d).slice(-4_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    if (child.pid) appendFileSync(pidsFile, `${child.pid}\n`);
    const entry = { name, child, output: () => output };
    daemons.push(entry);
    return entry;
  }

  /** Fails fast (with its output and log) if a daemon exits while we wait for it. */
  function assertAlive() {
    for (const d of daemons) {
      if (d.child.exitCode !== null || d.child.signalCode !== null) {
        const logFile = join(dir, 'log', `${d.name}.log`);
        const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
        throw new Error(`${d.name} exited with ${d.child.exitCode ?? d.child.signalCode}:\n${d.output()}\n${tail}`);
      }
    }
  }

  try {
    const fsid = randomUUID();
    const monPort = await freePort();
    const rgwPort = await freePort();
    writeFileSync(conf, cephConf(dir, fsid, monPort, rgwPort));
    const c = ['-c', conf];

    await run(['monmaptool', '--create', '--add', 'a', `v1:127.0.0.1:${monPort}`, '--fsid', fsid, join(dir, 'monmap')], remaining());
    await run(['ceph-authtool', '--create-keyring', join(dir, 'mon.keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], remaining());
    await run(['ceph-mon', ...c, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'mon.keyring')], remaining());
    daemon('mon.a', ['ceph-mon', ...c, '-i', 'a', '-f']);
    log(`radosgw: mon up on 127.0.0.1:${monPort} (${dir})`);

    const ceph = (args) => run(['ceph', ...c, '--connect-timeout', String(Math.ceil(remaining() / 1000)), ...args], remaining(), assertAlive);
    // The OSD's uuid must be the one the mon registered, or it refuses to boot ('wrong fsid').
    const osdUuid = randomUUID();
    const osdId = (await ceph(['osd', 'create', osdUuid])).trim();
    if (osdId !== '0') throw new Error(`ceph osd create returned ${JSON.stringify(osdId)}, expected 0`);
    await run(['ceph-osd', ...c, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], remaining());
    daemon('osd.0', ['ceph-osd', ...c, '-i', '0', '-f']);
    await ceph(['osd', 'crush', 'add', 'osd.0', '1.0', 'host=localhost', 'root=default']);
    log('radosgw: osd.0 started');

    daemon('client.rgw.a', ['radosgw', ...c, '-n', 'client.rgw.a', '-f']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    for (;;) {
      assertAlive();
      if (Date.now() > deadline) throw new Error(`radosgw did not answer HTTP 200 on ${endpoint} within ${timeoutMs / 1000} s`);
      const status = await fetch(endpoint, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => (r.body?.cancel(), r.status),
        () => 0,
      );
      if (status === 200) break;
      await sleep(250);
    }

    const credentials = generateCredentials();
    await run(
      [
        'radosgw-admin', ...c, 'user', 'create', '--uid=clafusion-test', '--display-name=clafusion test',
        `--access-key=${credentials.accessKeyId}`, `--secret=${credentials.secretAccessKey}`,
      ],
      remaining(),
      assertAlive,
    );
    log(`radosgw: ready on ${endpoint} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { endpoint, credentials, dir, pids: daemons.map((d) => d.child.pid), stop };
  } catch (e) {
    await stop();
    throw e;
  }

  /** Runs a one-shot command (with its full path), resolving to its stdout; `check` runs while it waits. */
  function run(args, ms, check) {
    return new Promise((resolve, reject) => {
      const child = spawn(which(args[0]), args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4_000)));
      const poll = check
        ? setInterval(() => {
            try {
              check();
            } catch (e) {
              child.kill('SIGKILL');
              finish(e);
            }
          }, 200)
        : undefined;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new Error(`${args[0]} did not finish within ${Math.round(ms / 1000)} s: ${stderr}`));
      }, ms);
      let done = false;
      function finish(error, value) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        error ? reject(error) : resolve(value);
      }
      child.once('error', finish);
      child.once('exit', (code) =>
        code === 0 ? finish(undefined, stdout) : finish(new Error(`${args.join(' ')} exited with ${code}:\n${stderr}${stdout}`)),
      );
    });
  }
}

async function stopProcess(child, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * A detached shell that outlives this process: once this process is gone it
 * SIGKILLs the PIDs in `pidsFile` and removes `dir`. If stop() removed the
 * folder first, the file is gone and it kills nothing.
 */
function startWatchdog(dir, pidsFile) {
  const script = `
    while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done
    if [ -f '${pidsFile}' ]; then
      for p in $(cat '${pidsFile}'); do kill -KILL "$p" 2>/dev/null; done
      sleep 1
      rm -rf '${dir}'
    fi`;
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rgw = await startRadosgw({ log: (l) => console.error(l) });
  console.log(JSON.stringify({ endpoint: rgw.endpoint, credentials: rgw.credentials, dir: rgw.dir, pids: rgw.pids }));
  const quit = () => rgw.stop().then(() => process.exit(0));
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  if (process.argv.includes('--once')) await quit();
}
