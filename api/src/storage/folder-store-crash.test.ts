/**
 * A process killed in the middle of a FolderStore put leaves its staging file
 * behind (nothing visible: the object appears only by rename). The next
 * process's first put reclaims that space at once when the writer is gone,
 * and never touches the staging file of a writer that is still alive or
 * lives on another host.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderStore } from './folder-store.ts';

const STORE_MODULE = new URL('./folder-store.ts', import.meta.url).href;
let root: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'folder-store-crash-'));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

/** A child process that puts `key` from a body that sends 64 KiB and then never ends. */
function startStuckWriter(key: string): ChildProcess {
  const script = `
    import { PassThrough } from 'node:stream';
    const { FolderStore } = await import(${JSON.stringify(STORE_MODULE)});
    const body = new PassThrough();
    body.write(Buffer.alloc(65536, 7));
    new FolderStore({ root: ${JSON.stringify(root)} }).put(${JSON.stringify(key)}, body);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  return child;
}

async function stagingFiles(): Promise<string[]> {
  return readdir(join(root, '.staging')).catch(() => []);
}

describe('FolderStore: staging files of crashed writers', () => {
  it('a put SIGKILLed mid-body leaves nothing visible, and the next process reclaims its staging file', async () => {
    const writer = startStuckWriter('models/big');
    // Wait until the writer has staged its first bytes.
    const deadline = Date.now() + 60_000;
    let staged: string[] = [];
    for (;;) {
      staged = await stagingFiles();
      if (staged.length === 1 && (await stat(join(root, '.staging', staged[0])).catch(() => undefined))?.size) break;
      if (Date.now() > deadline) throw new Error(`the writer staged nothing (${JSON.stringify(staged)})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(staged[0]).toContain(`.${writer.pid}.${hostname()}`);
    const exited = once(writer, 'exit');
    writer.kill('SIGKILL');
    await exited;

    // Staging files that must survive the sweep: a live writer on this host (a sleeping child
    // stands in for it), a writer on another host, and a name without a writer (the old format).
    const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
    children.push(sleeper);
    const keep = [
      `00000000-0000-4000-8000-000000000001.${sleeper.pid}.${hostname()}`,
      `00000000-0000-4000-8000-000000000002.${writer.pid}.another-host`,
      '00000000-0000-4000-8000-000000000003',
    ];
    for (const name of keep) await writeFile(join(root, '.staging', name), 'x');

    const store = new FolderStore({ root });
    expect(await store.head('models/big')).toBeNull();
    expect((await store.list('')).objects).toEqual([]);
    await store.put('models/small', new Uint8Array([1, 2, 3]));
    expect((await stagingFiles()).sort()).toEqual([...keep].sort());
    expect((await store.list('')).objects.map((o) => o.key)).toEqual(['models/small']);
    sleeper.kill('SIGKILL');
  });
});
