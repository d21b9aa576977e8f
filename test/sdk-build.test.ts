/**
 * The SDK as published: compiled with tsc, copied alone into a clean folder
 * whose node_modules holds only its runtime dependency (eventsource), then
 * imported and used against a running API. The server's types reach the SDK
 * through `import type` only, so none of its code comes along.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { RunningServer } from '../api/src/server.ts';
import { startEmbedded } from './support/embedded.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'clafusion-sdk-build-'));
let server: RunningServer;
let fixtures: Fixtures;

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  server = await startEmbedded(join(dir, 'store'));
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function jsFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
}

describe('published SDK', () => {
  it('builds with tsc and runs in a folder without the api package', async () => {
    const out = join(dir, 'build');
    await run(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', join(repo, 'sdk/tsconfig.build.json'), '--outDir', out]);

    const app = join(dir, 'app');
    const sdk = join(app, 'node_modules/@clafusion/sdk');
    cpSync(join(out, 'sdk/src'), sdk, { recursive: true });
    writeFileSync(join(sdk, 'package.json'), JSON.stringify({ name: '@clafusion/sdk', type: 'module', exports: './index.js' }));
    symlinkSync(join(repo, 'node_modules/eventsource'), join(app, 'node_modules/eventsource'), 'dir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));

    for (const file of jsFiles(sdk)) {
      const imports = [...readFileSync(join(sdk, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      for (const spec of imports) expect(spec, `${file} imports ${spec}`).toMatch(/^(\.\.?\/|node:|eventsource$)/);
    }

    const key = (await createApiKey(server.services.store, 'published')).token;
    writeFileSync(
      join(app, 'main.mjs'),
      `import { createClient, NotFoundError } from '@clafusion/sdk';
const client = createClient({ baseUrl: process.argv[2], apiKey: process.argv[3] });
const file = await client.files.upload(process.argv[4], { purpose: 'model' });
const missing = await client.fusions.retrieve('fus_0000000000000000000000000').catch((e) => e);
console.log(JSON.stringify({ status: file.status, family: file.model.arch.family, notFound: missing instanceof NotFoundError }));`,
    );
    const { stdout } = await run(process.execPath, [join(app, 'main.mjs'), server.url, key, fixtures.a], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({ status: 'ready', family: 'mlp', notFound: true });
  });
});
