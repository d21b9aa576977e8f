/**
 * Service processes for scale-out tests, started as an operator would
 * (`npm start`, `npm run runner`, `npm run keys` run exactly these entry
 * points), on 127.0.0.1. Every process started here is stopped by stopAll.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
export { freePort } from '../../testsupport/free-port.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const started = new Set<ChildProcess>();

export interface ServiceProcess {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr, interleaved. */
  output(): string;
  stdout(): string;
}

function start(entry: string, args: string[], env: Record<string, string>, ready: RegExp | null): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: repo,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let out = '';
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const proc: ServiceProcess = { child, pid: child.pid!, output: () => out, stdout: () => stdout };
  if (ready === null) return Promise.resolve(proc);
  return new Promise((resolve, reject) => {
    // A generous outer bound: the process says it is ready well before on an idle machine.
    const timer = setTimeout(() => reject(new Error(`${entry} did not start within 120 s:\n${out}`)), 120_000);
    const check = () => {
      if (ready.test(out)) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(proc);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code}:\n${out}`));
    });
  });
}

export const startApi = (env: Record<string, string>) => start('app/start.ts', [], env, /listening on/);
export const startRunnerProcess = (env: Record<string, string>) => start('app/runner.ts', [], env, /taking jobs/);

export async function createKey(env: Record<string, string>, tenant: string): Promise<string> {
  const proc = await start('api/src/cli/keys.ts', ['create', '--tenant', tenant], env, null);
  const [code] = await once(proc.child, 'exit');
  if (code !== 0) throw new Error(`npm run keys failed (${code}): ${proc.output()}`);
  return proc.stdout().trim();
}

export async function kill(proc: ServiceProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = once(proc.child, 'exit');
  proc.child.kill(signal);
  await exited;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((child) => kill({ child, pid: child.pid!, output: () => '', stdout: () => '' })));
}
