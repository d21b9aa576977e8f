/**
 * The SDK as a user gets it: `npm pack -w sdk` (which builds it), then, in a
 * fresh folder outside the repository, the install commands, tsconfig.json,
 * main.ts and trpc.ts exactly as sdk/README.md shows them (the root README
 * shows the same blocks). Installing is plain `npm install` of the tarball
 * (from the registry for its dependencies, TypeScript 7.0.2 and
 * @types/node, installed into the folder as the README says), with no npm
 * settings inherited from the repository. The examples compile with the
 * folder's own `tsc` under `strict` (no skipLibCheck, no
 * allowImportingTsExtensions) and run with plain `node` against a live
 * embedded server; consumer files with deliberate type errors must fail to
 * compile with exactly those errors, for both entries.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { RunningServer } from '../api/src/server.ts';
import type { FusionJob } from '../sdk/src/index.ts';
import { startEmbedded } from './support/embedded.ts';
import { writeFixtures } from './support/fixtures.ts';

const exec = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const sdkReadme = readFileSync(join(repo, 'sdk/README.md'), 'utf8');
const rootReadme = readFileSync(join(repo, 'README.md'), 'utf8');
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'clafusion-sdk-build-')));
const app = join(dir, 'app');
let server: RunningServer;
let apiKey: string;
let compiled: { code: number; output: string };
let mainRun: Promise<string[]> | undefined;
/** main.js's output lines; it runs once, and its fusion is the one the tRPC example looks at. */
const runMain = () => (mainRun ??= node('main.js'));

/** The fenced block right after `<!-- sdk-example:NAME -->`. */
function example(markdown: string, name: string): string {
  const match = new RegExp(`<!-- sdk-example:${name.replace('.', '\\.')} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\n`).exec(markdown);
  if (!match) throw new Error(`no sdk-example:${name} block`);
  return match[1]!;
}

/** The environment of a user's shell: none of the npm settings `npx vitest` put there (they name this repository). */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  // Only speed, not outcome: use the local npm cache where it has the packages, skip audit and funding.
  return { ...env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', ...extra };
}

async function sh(command: string, cwd: string, env = userEnv()): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await exec('sh', ['-c', command], { cwd, env, maxBuffer: 16 << 20 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function node(script: string): Promise<string[]> {
  const { stdout } = await exec(process.execPath, [script], {
    cwd: app,
    env: userEnv({ CLAFUSION_URL: server.url, CLAFUSION_API_KEY: apiKey }),
  });
  return stdout.trim().split('\n');
}

/** `file(line,col): error TSnnnn` lines of a tsc run, as "file:line TSnnnn". */
function tscErrors(output: string): string[] {
  return [...output.matchAll(/^([^\s(]+)\((\d+),\d+\): error (TS\d+)/gm)].map((m) => `${m[1]}:${m[2]} ${m[3]}`);
}

beforeAll(async () => {
  mkdirSync(app);
  writeFixtures(app); // model-a/b.safetensors, calibration.safetensors: the files main.ts uploads
  server = await startEmbedded(join(dir, 'store'));
  apiKey = (await createApiKey(server.services.store, 'published')).token;

  const packed = await sh(`npm pack -w sdk --pack-destination ${JSON.stringify(app)}`, repo);
  expect(packed.code, packed.output).toBe(0);
  expect(readdirSync(app)).toContain('clafusion-sdk-0.1.0.tgz');
  for (const line of example(sdkReadme, 'install').split('\n').filter((l) => l.trim() !== '')) {
    const step = await sh(line, app);
    expect(step.code, `${line}\n${step.output}`).toBe(0);
  }
  writeFileSync(join(app, 'tsconfig.json'), example(sdkReadme, 'tsconfig.json'));
  writeFileSync(join(app, 'main.ts'), example(sdkReadme, 'main.ts'));
  writeFileSync(join(app, 'trpc.ts'), example(sdkReadme, 'trpc.ts'));
  expect(example(sdkReadme, 'run').split('\n')[0]).toBe('npx tsc -p .');
  compiled = await sh('npx tsc -p .', app);
}, 240_000);

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the packed SDK in an app outside the repository', () => {
  it('installs from the tarball alone: built files whose imports stay in the package or name its dependencies', () => {
    const pkgDir = join(app, 'node_modules/@clafusion/sdk');
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; private?: boolean };
    expect(pkg.private).toBeUndefined();
    expect(relative(repo, realpathSync(pkgDir)).startsWith('..')).toBe(true); // a copy, not a link into the workspace
    const files = readdirSync(pkgDir, { recursive: true, encoding: 'utf8' }).filter((f) => !f.endsWith('/') && /\.\w+$/.test(f));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/trpc.js', 'dist/trpc.d.ts', 'README.md']));
    const allowed = new Set(Object.keys(pkg.dependencies));
    let checked = 0;
    for (const file of files.filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
      const text = readFileSync(join(pkgDir, file), 'utf8');
      for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        checked++;
        if (spec!.startsWith('.')) {
          const target = resolve(dirname(join(pkgDir, file)), spec!);
          expect(relative(pkgDir, target).startsWith('..'), `${file} imports ${spec}`).toBe(false);
          expect(spec, `${file} imports ${spec}`).toMatch(/\.js$/);
          expect(readdirSync(dirname(target)), `${file} imports ${spec}`).toContain(target.split('/').at(-1));
        } else if (!spec!.startsWith('node:')) {
          const name = spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!;
          expect(allowed.has(name), `${file} imports ${spec}, not a dependency`).toBe(true);
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('main entry: the README example compiles under strict and runs against a live server (upload, createAndWait, download, list)', async () => {
    expect(compiled.code, compiled.output).toBe(0);
    const lines = await runMain();
    const fused = lines.find((l) => l.startsWith('fused '))!.split(' ');
    const [, id, status, bytes] = fused;
    expect(status).toBe('succeeded');
    expect(lines.filter((l) => l.startsWith('progress ')).length).toBeGreaterThan(0);
    const job = (await (await fetch(`${server.url}/v1/fusions/${id}`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as FusionJob;
    expect(job.status).toBe('succeeded');
    expect(Number(bytes)).toBe(job.outputs.find((o) => o.name === 'fused.safetensors')!.size);
    expect(lines).toContain(`job ${id} succeeded`);
    expect(lines.at(-1)).toBe('error 404 not_found');
  });

  it('tRPC entry: the README example compiles and runs (typed query, subscription, mutation, error body)', async () => {
    expect(compiled.code, compiled.output).toBe(0);
    const main = await runMain();
    const id = main.find((l) => l.startsWith('fused '))!.split(' ')[1];
    const lines = await node('trpc.js');
    expect(lines[0]).toBe(`newest ${id} succeeded fused.safetensors,report.json,report.html`);
    const events = lines[1]!.split(' ')[1]!.split(',');
    expect(events[0]).toBe('queued');
    expect(events).toContain('running');
    expect(events.at(-1)).toBe('succeeded');
    expect(lines[2]).toMatch(/^created file_[0-9a-v]{25} pending PUT$/);
    expect(lines[3]).toBe('error 409 job_not_cancelable');
  });

  it('consumer code with type errors does not compile, for either entry', async () => {
    const bad = join(app, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', include: ['*.ts'] }));
    writeFileSync(
      join(bad, 'main-errors.ts'),
      `import { createClient } from '@clafusion/sdk';
const client = createClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'key' });
const job = await client.fusions.retrieve('fus_0000000000000000000000000');
const n: number = job.status;
console.log(n, job.stauts);
await client.fusions.create({ models: [], calibration: { file: 'file_x' }, seeed: 1 });
`,
    );
    writeFileSync(
      join(bad, 'trpc-errors.ts'),
      `import { createTrpcClient } from '@clafusion/sdk/trpc';
const trpc = createTrpcClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'key' });
const job = await trpc.fusions.get.query({ id: 'fus_0000000000000000000000000' });
const n: number = job.status;
await trpc.fusions.list.query({ limt: 5 });
await trpc.fusions.cancel.query({ id: job.id });
console.log(n);
`,
    );
    const result = await sh('npx tsc -p bad', app);
    expect(result.code).not.toBe(0);
    expect(tscErrors(result.output).sort()).toEqual(
      [
        'bad/main-errors.ts:4 TS2322', // string status into a number
        'bad/main-errors.ts:5 TS2551', // stauts: no such field (did you mean status?)
        'bad/main-errors.ts:6 TS2561', // seeed: not in FusionRequest (did you mean seed?)
        'bad/trpc-errors.ts:4 TS2322',
        'bad/trpc-errors.ts:5 TS2561', // limt: not in the list input
        'bad/trpc-errors.ts:6 TS2339', // cancel is a mutation: no .query
      ].sort(),
    );
  });

  it('README.md shows the same install, tsconfig, example and commands as sdk/README.md', () => {
    for (const name of ['install', 'tsconfig.json', 'main.ts', 'run']) expect(example(rootReadme, name), name).toBe(example(sdkReadme, name));
  });
});
