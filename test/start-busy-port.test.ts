/**
 * `npm start` on a port another process holds: one line on stderr that names
 * the port and PORT, exit code 1, nothing on stdout and no stack trace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portInUse } from '../api/src/port-check.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'clafusion-busy-port-'));
let holder: Server;
let port: number;

beforeAll(async () => {
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, resolve));
  port = (holder.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => holder.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('npm start on a busy port', () => {
  it('portInUse tells a held port from a free one', async () => {
    expect(await portInUse('127.0.0.1', port)).toBe(true);
    const free = createServer();
    await new Promise<void>((resolve) => free.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const freePort = (free.address() as { port: number }).port;
    await new Promise((resolve) => free.close(resolve));
    expect(await portInUse('127.0.0.1', freePort)).toBe(false);
  });

  it('says so in one line naming PORT, and exits 1', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: join(dir, 'data') };
    for (const key of ['REDIS_URL', 'S3_BUCKET', 'S3_ENDPOINT']) delete env[key];
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/src/main.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(`clafusion API: port ${port} on 127.0.0.1 is already in use (is another server running?); set PORT to a free port, e.g. PORT=${port + 1} npm start\n`);
  });
});
