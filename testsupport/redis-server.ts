/**
 * A private redis-server for a test that must kill and restart Redis (the
 * shared one from global-setup.ts must stay up for everyone else). Started
 * like the shared one (servers.mjs): no persistence, data under a temp
 * folder, so a restart on the same port comes back empty.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

export interface PrivateRedis {
  port: number;
  url: string;
  /** SIGKILLs the server (no shutdown, nothing saved) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts a fresh, empty server on the same port. */
  restart(): Promise<void>;
  /** Kills it and removes its folder. */
  stop(): Promise<void>;
}

function launch(port: number, dir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => fail(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000);
    function fail(error: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    }
    child.once('error', fail);
    const onExit = (code: number | null) => fail(new Error(`redis-server exited with ${code}:\n${output}`));
    child.once('exit', onExit);
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const onData = (d: Buffer) => {
      output += d.toString();
      if (!output.includes('Ready to accept connections')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      child.stderr!.resume();
      resolve(child);
    };
    child.stdout!.on('data', onData);
  });
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'clafusion-private-redis-'));
  let port = 0;
  let child: ChildProcess | null = null;
  // A free port can be taken by someone else before redis binds it: try a few.
  for (let attempt = 1; !child; attempt++) {
    port = await freePort();
    try {
      child = await launch(port, dir);
    } catch (e) {
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
  const kill = async () => {
    const current = child;
    child = null;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = once(current, 'exit');
    current.kill('SIGKILL');
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    async restart() {
      await kill();
      child = await launch(port, dir);
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
