/**
 * File names from the whole Unicode range (issue #18), on the folder store
 * and on the S3 server: every name is either refused at create with 400
 * naming the `name` field, or it round-trips exactly: the download's
 * `filename*` (read by Express's parser and by Chromium) is the stored name.
 * Never a 500, never an injected header. A fusion whose inputs carry such
 * names succeeds and shows them escaped in its report.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import contentDispositionPackage from 'content-disposition';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { ApiErrorBody, CreateFileResult, FileObject, FusionJob } from '../api/contract/src/index.ts';
import { fileNameProblem } from '../api/contract/src/index.ts';
import { S3Store } from '../api/src/storage/index.ts';
import { Browser } from '../gpu-runner/test/support/chromium.ts';
import { s3Credentials, s3Endpoint, uniqueName } from '../testsupport/servers.ts';
import { startEmbedded, startOnStore } from './support/embedded.ts';
import { ARCH_A, ARCH_B, datasetBytes, modelBytes } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-unicode-names-'));
const CONTENT = datasetBytes(24, 5, true);

interface Stack {
  label: string;
  api: Rest;
  close(): Promise<void>;
}
const stacks: Stack[] = [];

beforeAll(async () => {
  const folder = await startEmbedded(join(dir, 'store'));
  stacks.push({ label: 'folder store', api: new Rest(folder.url, (await createApiKey(folder.store, 'acme')).token), close: () => folder.close() });

  const store = new S3Store({ bucket: uniqueName('clafusion-names'), endpoint: s3Endpoint(), credentials: s3Credentials(), forcePathStyle: true });
  await store.ensureBucket();
  const server = await startOnStore(store, 1, { requeueOnStart: false });
  stacks.push({
    label: 'S3 server',
    api: new Rest(server.url, (await createApiKey(store, 'acme')).token),
    async close() {
      await server.close();
      store.close();
    },
  });
});

afterAll(async () => {
  for (const s of stacks) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Pieces a hostile or simply foreign name is made of. */
const PIECES = [
  'modèle', '模型', 'é', 'e\u0301', '\u0308', '\u200f', '\u200e', '\u202e', '\u2067', 'نموذج', 'מודל', '🦊', '👩‍👩‍👧', '🇩🇪',
  '"', "'", ';', '%', '%41', '%%', '\\', '/', '\r\n', '\n', '\u0000', '\u0085', '\t', ' ', '.', '..', '<script>', '&amp;',
  'filename="x"', 'Set-Cookie: a=b', '\ud800', '\udfff', '\ufeff', '\uffff',
];
const nameArbitrary = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('')),
  fc.tuple(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom(...PIECES), fc.constantFrom('.safetensors', '.pt', '')).map(([a, b, c]) => a + b + c),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.nat({ max: 400 }).map((n) => '模'.repeat(Math.floor(n / 3)) + 'a'.repeat(n % 3)),
);

/** create → PUT → complete → download for `name`; returns the stored record and the download response, or the 400 body. */
async function roundTrip(api: Rest, name: string): Promise<{ refused: ApiErrorBody } | { file: FileObject; download: Response }> {
  const created = await api.fetch('/v1/files', { method: 'POST', json: { name, purpose: 'dataset', size: CONTENT.length } });
  const text = await created.text();
  expect([200, 400], `create ${JSON.stringify(name)}: ${text}`).toContain(created.status);
  if (created.status === 400) return { refused: (JSON.parse(text) as { error: ApiErrorBody }).error };
  const { file, upload } = JSON.parse(text) as CreateFileResult;
  const put = await fetch(upload.url, { method: 'PUT', headers: { ...upload.headers, ...(upload.via_api ? api.headers() : {}) }, body: CONTENT });
  expect(put.status, await put.clone().text()).toBe(200);
  const done = await api.json<FileObject>(`/v1/files/${file.id}/complete`, { method: 'POST' });
  // fetch follows the S3 store's 302 to the presigned URL, whose answer carries the disposition it was signed with.
  const download = await api.fetch(`/v1/files/${file.id}/content`);
  return { file: done, download };
}

describe.each([0, 1])('names through create → upload → complete → download (%#)', (index) => {
  it('every name is refused with 400 on `name` or comes back exactly', async () => {
    const { api, label } = stacks[index];
    await fc.assert(
      fc.asyncProperty(nameArbitrary, async (name) => {
        const result = await roundTrip(api, name);
        if ('refused' in result) {
          expect(result.refused.code, label).toBe('invalid_request');
          expect((result.refused.details as { issues: { path: string }[] }).issues[0].path).toBe('name');
          expect(fileNameProblem(name), `${label}: ${JSON.stringify(name)} was refused`).not.toBeNull();
          return;
        }
        expect(fileNameProblem(name), `${label}: ${JSON.stringify(name)} was accepted`).toBeNull();
        const { file, download } = result;
        expect(file.name).toBe(name);
        expect(download.status, label).toBe(200);
        expect(new Uint8Array(await download.arrayBuffer())).toEqual(CONTENT);
        const header = download.headers.get('content-disposition')!;
        expect(header).toMatch(/^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''[\x21-\x7e]+$/);
        expect(contentDispositionPackage.parse(header).parameters.filename, label).toBe(name);
        expect(download.headers.get('set-cookie')).toBeNull();
        const listed = await api.json<FileObject>(`/v1/files/${file.id}`);
        expect(listed.name).toBe(name);
      }),
      { numRuns: 25, seed: 18 + index },
    );
  });
});

it('Chromium saves downloads under the stored name, from the API and from a presigned S3 URL', async () => {
  // Names a browser may save as they are (Chromium replaces characters file
  // systems refuse, such as `"`, with `_`: that is the browser's own rule).
  const names = ['modèle-模型.safetensors', 'é.safetensors', "🦊 fox; l'été 100%.bin", 'نموذج.pt'];
  const browser = await Browser.launch();
  try {
    const downloads = mkdtempSync(join(dir, 'downloads-'));
    await browser.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads, eventsEnabled: true });
    const page = await browser.newPage();
    const suggested = (url: string) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no download began for ${url}`)), 90_000);
        const off = browser.on((method, params) => {
          if (method === 'Browser.downloadWillBegin') {
            clearTimeout(timer);
            off();
            resolve((params as { suggestedFilename: string }).suggestedFilename);
          }
        });
      });
    for (const stack of stacks) {
      for (const name of names) {
        const result = await roundTrip(stack.api, name);
        if (!('file' in result)) throw new Error(`${name} refused: ${JSON.stringify(result.refused)}`);
        await result.download.arrayBuffer();
        // The folder store streams through the API (the key goes along as a
        // header); the S3 store answers with a presigned URL, which the
        // browser opens with no key, as a link in an app would.
        const api = await stack.api.fetch(`/v1/files/${result.file.id}/content`, { redirect: 'manual' });
        await api.arrayBuffer();
        const presigned = api.status === 302 ? api.headers.get('location') : null;
        await page.send('Network.setExtraHTTPHeaders', { headers: presigned ? {} : stack.api.headers() });
        const url = presigned ?? `${stack.api.base}/v1/files/${result.file.id}/content`;
        expect(presigned === null, stack.label).toBe(stack.label === 'folder store');
        const began = suggested(url);
        // A navigation that turns into a download ends as an aborted navigation: its result is not the point.
        await page.send('Page.navigate', { url }).catch(() => undefined);
        expect(await began, `${stack.label}: ${url}`).toBe(name);
      }
    }
  } finally {
    await browser.close();
  }
});

it('a fusion whose inputs have such names succeeds, and its report shows them escaped', async () => {
  for (const { api, label } of stacks) {
    const upload = async (name: string, bytes: Uint8Array, purpose: 'model' | 'dataset') => {
      const { file, upload: target } = await api.json<CreateFileResult>('/v1/files', { method: 'POST', json: { name, purpose, size: bytes.length } });
      const put = await fetch(target.url, { method: 'PUT', headers: { ...target.headers, ...(target.via_api ? api.headers() : {}) }, body: bytes });
      expect(put.status).toBe(200);
      return api.json<FileObject>(`/v1/files/${file.id}/complete`, { method: 'POST' });
    };
    const a = await upload('modèle-模型 "a"; 100%.safetensors', modelBytes(ARCH_A, 1), 'model');
    const b = await upload('<img src=x onerror=alert(1)> 🦊\u200f.safetensors', modelBytes(ARCH_B, 2), 'model');
    const cal = await upload("données d'étalonnage.safetensors", datasetBytes(40, 3, false), 'dataset');
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { models: [a.id, b.id], calibration: { file: cal.id } } });
    const done = await api.waitFor(job.id, (j) => j.status === 'succeeded' || j.status === 'failed');
    expect(done.status, `${label}: ${JSON.stringify(done.error)}`).toBe('succeeded');
    const events = await api.streamEvents(job.id);
    expect(events.at(-1)?.type).toBe('succeeded');

    const report = JSON.parse(new TextDecoder().decode(await api.download(`/v1/fusions/${job.id}/outputs/report.json/content`))) as unknown;
    expect(JSON.stringify(report)).toContain(JSON.stringify(a.name).slice(1, -1));
    const html = new TextDecoder().decode(await api.download(`/v1/fusions/${job.id}/outputs/report.html/content`));
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    for (const output of done.outputs) {
      const res = await api.fetch(`/v1/fusions/${job.id}/outputs/${output.name}/content`);
      expect(res.status).toBe(200);
      expect(contentDispositionPackage.parse(res.headers.get('content-disposition')!).parameters.filename).toBe(output.name);
      await res.arrayBuffer();
    }
  }
});
