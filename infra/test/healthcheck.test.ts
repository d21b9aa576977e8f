/**
 * The images' health-check script and the runner entrypoint, run as the
 * containers run them: against the shared test Redis and a small HTTP
 * server on loopback.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { redisUrl } from '../../testsupport/servers.ts';

const ROOT = join(import.meta.dirname, '../..');
const SCRIPT = join(ROOT, 'infra/docker/healthcheck.mjs');
const check = (mode: string, env: Record<string, string>) => {
  const r = spawnSync(process.execPath, [SCRIPT, mode], { env: { PATH: process.env.PATH ?? '', HEALTHCHECK_TIMEOUT_MS: '3000', ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
};

describe('healthcheck.mjs redis', () => {
  it('is healthy when Redis answers PING', () => {
    expect(check('redis', { REDIS_URL: redisUrl() })).toEqual({ code: 0, out: expect.stringMatching(/answered PONG/) });
  });

  it('sends AUTH when a token is set, and reports what Redis said', () => {
    // The test server has no password, so Redis refuses the AUTH: proof that it was sent.
    const r = check('redis', { REDIS_URL: redisUrl(), REDIS_AUTH_TOKEN: 'abc123' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/unhealthy: Redis said ERR AUTH/);
  });

  it('is unhealthy when nothing listens, or without REDIS_URL', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    expect(check('redis', { REDIS_URL: `redis://127.0.0.1:${port}` })).toEqual({ code: 1, out: expect.stringMatching(/^unhealthy: 127\.0\.0\.1:\d+: .*ECONNREFUSED/) });
    expect(check('redis', {})).toEqual({ code: 1, out: 'unhealthy: REDIS_URL is not set' });
    expect(check('nope', {}).code).toBe(1);
  });
});

describe('healthcheck.mjs http', () => {
  it('wants 200 from /healthz on $PORT', async () => {
    let status = 200;
    const server = createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const PORT = String((server.address() as AddressInfo).port);
    try {
      // The server runs in this process, so the check must not block it (no spawnSync here).
      const run = (env: Record<string, string>) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, [SCRIPT, 'http'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
          child.on('exit', (code) => resolve(code));
        });
      expect(await run({ PORT })).toBe(0);
      status = 503;
      expect(await run({ PORT })).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('runner-entrypoint.sh', () => {
  it('puts REDIS_AUTH_TOKEN into REDIS_URL and execs the command', () => {
    const r = spawnSync('sh', [join(ROOT, 'infra/docker/runner-entrypoint.sh'), process.execPath, '-e', 'process.stdout.write(process.env.REDIS_URL)'], {
      env: { PATH: `${join(process.execPath, '..')}:${process.env.PATH ?? ''}`, REDIS_URL: 'rediss://master.example.cache.amazonaws.com:6379', REDIS_AUTH_TOKEN: 'Tok3n' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('rediss://:Tok3n@master.example.cache.amazonaws.com:6379');
  });

  it('leaves REDIS_URL alone without a token', () => {
    const r = spawnSync('sh', [join(ROOT, 'infra/docker/runner-entrypoint.sh'), process.execPath, '-e', 'process.stdout.write(process.env.REDIS_URL)'], {
      env: { PATH: process.env.PATH ?? '', REDIS_URL: 'redis://redis:6379' },
      encoding: 'utf8',
    });
    expect(r.stdout).toBe('redis://redis:6379');
  });
});
