/**
 * Disk full on the local-folder store, on a real small filesystem (a 1 MiB
 * tmpfs), never a mock: a put that runs out of space fails with
 * `unavailable` naming the key and ENOSPC, nothing half-written becomes
 * visible, an overwrite that fails keeps the stored version intact, the
 * staging file is removed so the space comes back, and an upload through the
 * HTTP API answers a clear error envelope (not a 500) and leaves the file
 * pending.
 *
 * Mounting a tmpfs needs privileges. In order: mount it here when running as
 * root (unmounted in afterAll); else run the scenario in a child process
 * inside a user + mount namespace (`unshare -rm`), where mounting a tmpfs is
 * allowed; else skip, saying why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiskFullReport } from './folder-store-disk-full.fixture.ts';

const FIXTURE = fileURLToPath(new URL('./folder-store-disk-full.fixture.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'folder-store-full-'));
const mountPoint = join(dir, 'mnt');

let mounted = false;
let report: DiskFullReport | undefined;
let skipReason: string | undefined;

function tryRootMount(): string | null {
  // DISK_FULL_TEST_VIA=unshare exercises the namespace path on a machine that could mount as root.
  if (process.env.DISK_FULL_TEST_VIA === 'unshare') return 'root mount not tried (DISK_FULL_TEST_VIA=unshare)';
  if (process.getuid?.() !== 0) return 'not root';
  try {
    mkdirSync(mountPoint, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    mounted = true;
    return null;
  } catch (e) {
    return `mount as root failed: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`;
  }
}

/** The scenario in `unshare -rm`: mount the tmpfs in the new namespace, run the fixture there, read its JSON. */
function tryUnshare(): { report: DiskFullReport } | { reason: string } {
  mkdirSync(mountPoint, { recursive: true });
  const script = 'mount -t tmpfs -o size=1m tmpfs "$1" && exec "$2" --import tsx "$3" "$1"';
  const run = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script, 'sh', mountPoint, process.execPath, FIXTURE], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (run.error) return { reason: `unshare could not run: ${run.error.message}` };
  if (run.status !== 0) {
    // Mounting refused in the namespace (e.g. user namespaces disabled): skip. A failing fixture is a failure.
    if (/mount|unshare|Operation not permitted|Permission denied/i.test(run.stderr) && !run.stdout.trim()) {
      return { reason: `unshare -rm + mount failed: ${run.stderr.trim()}` };
    }
    throw new Error(`the disk-full fixture failed in the namespace (${run.status}):\n${run.stderr}`);
  }
  return { report: JSON.parse(run.stdout.trim().split('\n').at(-1)!) as DiskFullReport };
}

beforeAll(async () => {
  const rootProblem = tryRootMount();
  if (rootProblem === null) {
    const { runDiskFullScenario } = await import('./folder-store-disk-full.fixture.ts');
    report = await runDiskFullScenario(mountPoint);
    return;
  }
  const viaNamespace = tryUnshare();
  if ('report' in viaNamespace) report = viaNamespace.report;
  else {
    skipReason = `no small filesystem for the disk-full test (${rootProblem}; ${viaNamespace.reason})`;
    console.warn(`[folder-store-disk-full] SKIPPED: ${skipReason}`);
  }
}, 600_000);

afterAll(() => {
  if (mounted) execFileSync('umount', [mountPoint]);
  rmSync(dir, { recursive: true, force: true });
});

/** `it`, skipped at run time (with the reason printed) when no small filesystem could be had. */
function itFull(name: string, body: (r: DiskFullReport) => void): void {
  it(name, (ctx) => {
    if (!report) {
      console.warn(`[folder-store-disk-full] skipping "${name}": ${skipReason}`);
      ctx.skip();
      return;
    }
    body(report);
  });
}

describe('FolderStore on a full disk (1 MiB tmpfs)', () => {
  itFull('the filesystem really is that small', (r) => {
    expect(r.fsBytes).toBeLessThanOrEqual(1024 * 1024);
  });

  itFull('an overwrite that hits ENOSPC rejects with unavailable naming the key and ENOSPC, and keeps the stored version', (r) => {
    expect(r.overwrite.ok).toBe(false);
    expect(r.overwrite.error).toMatchObject({ name: 'ObjectStoreError', code: 'unavailable', key: r.key });
    expect(r.overwrite.error!.message).toContain('ENOSPC');
    expect(r.overwrite.error!.message).toContain(r.key);
    // The previous version is intact: same size, same recorded sha256, and its bytes hash to it.
    expect(r.afterOverwrite.head).toEqual({ size: r.v1.size, sha256: r.v1.sha256 });
    expect(r.afterOverwrite.contentSha256).toBe(r.v1.sha256);
  });

  itFull('a new key that hits ENOSPC never becomes visible', (r) => {
    expect(r.fresh.ok).toBe(false);
    expect(r.fresh.error).toMatchObject({ name: 'ObjectStoreError', code: 'unavailable', key: r.freshKey });
    expect(r.fresh.error!.message).toContain('ENOSPC');
    expect(r.afterFresh.head).toBeNull();
    expect(r.afterFresh.listed).toEqual([r.key]);
  });

  itFull('the failed puts left no staging file: the space is back and a later put fits', (r) => {
    expect(r.afterFresh.staging).toEqual([]);
    expect(r.afterwards.error).toBeUndefined();
    expect(r.afterwards.ok).toBe(true);
  });

  itFull('an upload through the HTTP API bigger than the free space: a clear envelope, not a 500; the file stays pending', (r) => {
    const { put } = r.http;
    // The client gets the answer (or, at worst, a cut connection), never a success.
    expect(put.clientError ?? '', JSON.stringify(put)).toBe('');
    expect(put.status).toBe(507);
    const body = JSON.parse(put.body!) as { error: { code: string; message: string; details: Record<string, unknown> } };
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error.code).toBe('insufficient_storage');
    expect(body.error.message).toMatch(/space/i);
    expect(put.body).not.toMatch(/\bat .*\.(ts|js):\d+|stack/);

    expect(r.http.file.status).toBe(200);
    expect(JSON.parse(r.http.file.body)).toMatchObject({ status: 'pending', sha256: null });
    expect(r.http.complete.status).toBe(409);
    expect(JSON.parse(r.http.complete.body).error.code).toBe('file_not_ready');
    expect(r.http.contentHead).toBeNull();
    expect(r.http.staging).toEqual([]);
    // The space came back: a small upload goes through (its random bytes are then refused as not safetensors, which means they were stored).
    expect(r.http.smallUpload.put).toBe(200);
    expect(r.http.smallUpload.complete, r.http.smallUpload.completeBody).toBe(422);
  });

  itFull('a disk with no space at all: creating a file (a REST call on a tRPC procedure) answers 507 insufficient_storage, and works once space is freed', (r) => {
    const { createWhenFull } = r.http;
    expect(createWhenFull.status, createWhenFull.body).toBe(507);
    expect(JSON.parse(createWhenFull.body)).toEqual({ error: { code: 'insufficient_storage', message: expect.stringMatching(/space/) as unknown, details: {} } });
    expect(createWhenFull.body).not.toMatch(/\bat .*\.(ts|js):\d+|stack/);
    expect(r.http.createAfterFreeing).toBe(200);
  });
});
