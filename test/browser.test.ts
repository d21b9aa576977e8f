/**
 * The API from a browser (headless Chromium over CDP, real HTTP on
 * 127.0.0.1): a page served on another loopback port calls the API across
 * origins with the SDK (bundled for the page) and with fetch, preflighted
 * requests with a bearer key, when CORS_ORIGINS names
 * its origin, and is refused by the browser when it does not; a signed
 * report link opens in a tab without a key, and the same link is refused
 * after it expires and for another job.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { FusionJob, SignedLink } from '../api/contract/src/index.ts';
import { Browser } from '../gpu-runner/test/support/chromium.ts';
import { bundleSdkForBrowser } from './support/browser-sdk.ts';
import { startEmbedded } from './support/embedded.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { Rest, expectApiError } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-browser-'));
let fixtures: Fixtures;
let server: Awaited<ReturnType<typeof startEmbedded>>;
let api: Rest;
let browser: Browser;
let pages: Server[] = [];
let allowedOrigin: string;
let otherOrigin: string;

let sdkBundle: string;
const APP_PAGE = '<!doctype html><title>app</title><script type="module">import { createClient } from "/sdk.js"; window.sdk = { createClient };</script><p>app</p>';

/** An app on its own loopback origin: a page that loads the SDK bundle. */
async function pageServer(): Promise<string> {
  const s = createServer((req, res) => {
    if (req.url === '/sdk.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(sdkBundle);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(APP_PAGE);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  pages.push(s);
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  sdkBundle = await bundleSdkForBrowser();
  allowedOrigin = await pageServer();
  otherOrigin = await pageServer();
  server = await startEmbedded(join(dir, 'store'), 1, { corsOrigins: [allowedOrigin] });
  api = new Rest(server.url, (await createApiKey(server.services.store, 'acme')).token);
  browser = await Browser.launch();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  for (const p of pages) await new Promise((r) => p.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const callFromPage = (apiBase: string, key: string) => `
  fetch(${JSON.stringify(apiBase)} + '/v1/fusions?limit=5', { headers: { authorization: 'Bearer ${key}' } })
    .then(async (r) => ({ ok: true, status: r.status, body: await r.json() }), (e) => ({ ok: false, error: String(e) }))`;

/** The SDK in the page: list jobs, create a file (a preflighted JSON POST), read it back, delete it. */
const sdkFromPage = (apiBase: string, key: string) => `
  (async () => {
    const client = window.sdk.createClient({ baseUrl: ${JSON.stringify(apiBase)}, apiKey: '${key}', maxRetries: 0 });
    try {
      const page = await client.fusions.list({ limit: 5 });
      const { file } = await client.files.create({ name: 'from-the-browser.safetensors', purpose: 'dataset', size: 64 });
      const again = await client.files.retrieve(file.id);
      const deleted = await client.files.delete(file.id);
      return { ok: true, listed: page.object, status: again.status, deleted: deleted.deleted };
    } catch (e) {
      return { ok: false, error: String(e), name: e.name };
    }
  })()`;

describe('browsers', () => {
  it('answers preflights for every route, with CORS headers only for the configured origin', async () => {
    for (const path of ['/v1/fusions', '/v1/files/file_0000000000000000000000000', '/v1/fusions/fus_0000000000000000000000000/report', '/trpc/fusions.list', '/healthz']) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: allowedOrigin, 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(res.status, path).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
      expect(res.headers.get('access-control-allow-methods')).toContain('DELETE');
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    }
    const other = await fetch(`${server.url}/v1/fusions`, { method: 'OPTIONS', headers: { origin: otherOrigin, 'access-control-request-method': 'GET' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // Without CORS_ORIGINS nothing carries CORS headers.
    const plain = await startEmbedded(join(dir, 'plain'), 0);
    try {
      const res = await fetch(`${plain.url}/v1/fusions`, { headers: { origin: allowedOrigin, authorization: `Bearer ${api.key}` } });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await plain.close();
    }
  });

  it('a page on the allowed origin calls the API with its key; a page on another origin is refused by the browser', async () => {
    const page = await browser.newPage();
    await page.goto(`${allowedOrigin}/`);
    const viaSdk = await page.evaluate<Record<string, unknown>>(sdkFromPage(server.url, api.key));
    expect(viaSdk).toEqual({ ok: true, listed: 'list', status: 'pending', deleted: true });
    const allowed = await page.evaluate<{ ok: boolean; status: number; body: { object: string } }>(callFromPage(server.url, api.key));
    expect(allowed).toMatchObject({ ok: true, status: 200, body: { object: 'list' } });
    // An error answer is readable too (the envelope, with the CORS header on it).
    const denied = await page.evaluate<{ ok: boolean; status: number; body: { error: { code: string } } }>(callFromPage(server.url, 'cfk_wrong_key'));
    expect(denied).toMatchObject({ ok: true, status: 401, body: { error: { code: 'unauthorized' } } });

    const otherPage = await browser.newPage();
    await otherPage.goto(`${otherOrigin}/`);
    const refused = await otherPage.evaluate<{ ok: boolean; error: string }>(callFromPage(server.url, api.key));
    expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(/Failed to fetch/) });
    const refusedSdk = await otherPage.evaluate<{ ok: boolean; name: string }>(sdkFromPage(server.url, api.key));
    expect(refusedSdk).toMatchObject({ ok: false, name: 'ConnectionError' });
  });

  it('a signed report link opens in a tab without a key, and is refused after expiry and for another job', async () => {
    const [a, b, cal, ev] = [
      await api.upload(fixtures.a, 'model'),
      await api.upload(fixtures.b, 'model'),
      await api.upload(fixtures.calibration, 'dataset'),
      await api.upload(fixtures.evaluation, 'dataset'),
    ];
    const spec = { models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: ev.id } };
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
    const other = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { ...spec, seed: 3 } });
    await api.waitFor(job.id, (j) => j.status === 'succeeded');
    await api.waitFor(other.id, (j) => j.status === 'succeeded');

    const link = await api.json<SignedLink>(`/v1/fusions/${job.id}/links`, { method: 'POST', json: { expires_in: 8 } });
    expect(link.url.startsWith(`${server.url}/v1/fusions/${job.id}/report?link=`)).toBe(true);
    const page = await browser.newPage();
    await page.goto(link.url);
    const seen = await page.evaluate<{ text: string; status: number }>(
      `({ text: document.body.innerText, status: performance.getEntriesByType('navigation')[0].responseStatus })`,
    );
    expect(seen.status).toBe(200);
    expect(seen.text).toContain('clafusion');

    // The same token for the other job, or for an output it was not made for: 401.
    const token = new URL(link.url).searchParams.get('link')!;
    await expectApiError(await fetch(`${server.url}/v1/fusions/${other.id}/report?link=${token}`), 'unauthorized');
    await expectApiError(await fetch(`${server.url}/v1/fusions/${job.id}/outputs/fused.safetensors/content?link=${token}`), 'unauthorized');
    // Another tenant's key cannot make one for this job.
    const stranger = new Rest(server.url, (await createApiKey(server.services.store, 'globex')).token);
    await expectApiError(await stranger.fetch(`/v1/fusions/${job.id}/links`, { method: 'POST', json: {} }), 'not_found');
    // An output link downloads the bytes without a key.
    const out = await api.json<SignedLink>(`/v1/fusions/${job.id}/links`, { method: 'POST', json: { target: 'report.json' } });
    const report = await fetch(out.url);
    expect(report.status).toBe(200);
    expect(((await report.json()) as { schema: string }).schema).toBeTruthy();

    // After expiry the very same URL is refused, in the browser too.
    await new Promise((r) => setTimeout(r, Date.parse(link.expires_at) - Date.now() + 1500));
    await expectApiError(await fetch(link.url), 'unauthorized');
    await page.goto(link.url);
    const expired = await page.evaluate<{ text: string; status: number }>(
      `({ text: document.body.innerText, status: performance.getEntriesByType('navigation')[0].responseStatus })`,
    );
    expect(expired.status).toBe(401);
    expect(expired.text).toContain('expired');
  });
});
