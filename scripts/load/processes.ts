/**
 * The processes `npm run load` measures, started as an operator would: a
 * private redis-server (own port, own temp folder, no persistence), the API
 * (`npm start`'s entry) and runners (`npm run runner`'s entry). Node
 * processes get scripts/load/stats-hook.mjs preloaded and an IPC channel, over
 * which they report their memory; every process started here is stopped by
 * `stopAll`, on every exit path of the script.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
export { freePort } from '../../testsupport/free-port.ts';
import { freePort } from '../../testsupport/free-port.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const hook = fileURLToPath(new URL('./stats-hook.mjs', import.meta.url));
const started = new Set<ChildProcess>();

export interface MemoryReport {
  /** ms since the epoch */
  t: number;
  rss: number;
  heap: number;
  external: number;
  array_buffers: number;
}

export interface NodeProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  /** Memory reports received so far (every 250 ms). */
  memory: MemoryReport[];
  /** Reports taken right after a full GC (every 5 s): the live heap. */
  afterGc: MemoryReport[];
}

function waitFor(child: ChildProcess, what: string, out: () => string, ready: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${out()}`)), timeoutMs);
    const check = () => ready.test(out()) && done();
    const exited = (code: number | null) => done(new Error(`${what} exited with ${code}:\n${out()}`));
    function done(error?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', exited);
      if (error) reject(error);
      else resolve();
    }
    child.stdout?.on('data', check);
    child.once('exit', exited);
    check();
  });
}

export async function startRedis(dir: string): Promise<{ url: string; child: ChildProcess }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.add(child);
    child.once('exit', () => started.delete(child));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const spawned = new Promise<void>((_, reject) => child.once('error', reject));
    try {
      await Promise.race([spawned, waitFor(child, 'redis-server', () => out, /Ready to accept connections/, 10_000)]);
      return { url: `redis://127.0.0.1:${port}`, child };
    } catch (e) {
      child.kill('SIGKILL');
      // The port can be taken between freePort and redis binding it: try another.
      if (attempt >= 3 || (e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    }
  }
}

/** Starts `node --import tsx --import stats-hook.mjs <entry>` and waits for `ready` on stdout. */
export async function startNode(name: string, entry: string, env: Record<string, string>, ready: RegExp): Promise<NodeProcess> {
  // LOAD_CPU_PROF=<folder>: each service process writes a V8 CPU profile there when it exits.
  const profile = process.env.LOAD_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LOAD_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, '--expose-gc', '--import', 'tsx', '--import', hook, entry], {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let out = '';
  // The last 64 KiB is enough to show why a process failed.
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-65_536));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const proc: NodeProcess = { name, child, output: () => out, memory: [], afterGc: [] };
  child.on('message', (m: MemoryReport & { type?: string; gc?: boolean }) => {
    if (m?.type !== 'load-stats') return;
    (m.gc ? proc.afterGc : proc.memory).push({ t: m.t, rss: m.rss, heap: m.heap, external: m.external, array_buffers: m.array_buffers });
  });
  await waitFor(child, name, () => out, ready, 60_000);
  return proc;
}

/** SIGTERM (the services' graceful stop), SIGKILL after `graceMs`. */
export async function stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((child) => stop(child, 5_000)));
}
