/**
 * The OpenAPI document against what the service really answers: the flows
 * of the lifecycle, validation and error suites are driven through one
 * recording fetch on the embedded service, and every status seen for an
 * operation must be one the document declares for it (with the envelope
 * code it declares for that status).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { FileObject, FusionJob } from '../api/contract/src/index.ts';
import { startEmbedded } from './support/embedded.ts';
import { INPUT, type Fixtures, writeFixtures } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { properties?: { error?: { properties: { code: { enum: string[] } } } } } }> }> }>> };

const dir = mkdtempSync(join(tmpdir(), 'clafusion-openapi-observed-'));
let fixtures: Fixtures;
let server: Awaited<ReturnType<typeof startEmbedded>>;
let doc: Doc;
const seen: { method: string; template: string; status: number; code: string | null }[] = [];

/** Which documented path template a concrete /v1 path is. */
function templateOf(path: string): string | null {
  const candidates = Object.keys(doc.paths).filter((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
  // The most literal template wins (/fusions/{id}/outputs before /fusions/{id}/{x}).
  return candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))[0] ?? null;
}

class RecordingRest extends Rest {
  override async fetch(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
    const res = await super.fetch(path, init);
    const url = new URL(path, 'http://x');
    const template = url.pathname.startsWith('/v1/') ? templateOf(url.pathname.slice(3)) : null;
    if (template) {
      let code: string | null = null;
      if (res.status >= 400) {
        const text = await res.clone().text();
        const body = JSON.parse(text) as { error?: { code: string } };
        if (!body.error) throw new Error(`${init.method ?? 'GET'} ${path} → ${res.status} without the error envelope: ${text}`);
        code = body.error.code;
      }
      seen.push({ method: (init.method ?? 'GET').toLowerCase(), template, status: res.status, code });
    }
    return res;
  }
}

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  server = await startEmbedded(join(dir, 'store'), 0);
  doc = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as Doc;
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('every status the service answered is declared for its operation', () => {
  it('drives the lifecycle and error flows and checks each answer against the document', async () => {
    const key = (await createApiKey(server.services.store, 'acme')).token;
    const api = new RecordingRest(server.url, key);
    const anonymous = new RecordingRest(server.url, 'cfk_not_a_key');
    const narrow = join(dir, 'narrow.safetensors');
    const header = Buffer.from(JSON.stringify({ x: { dtype: 'F32', shape: [2, INPUT - 1], data_offsets: [0, 8 * (INPUT - 1)] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(narrow, Buffer.concat([length, header, Buffer.alloc(8 * (INPUT - 1))]));

    const [a, b, cal] = [await api.upload(fixtures.a, 'model'), await api.upload(fixtures.b, 'model'), await api.upload(fixtures.calibration, 'dataset')];
    const misfit = await api.upload(narrow, 'dataset');
    const spec = { models: [a.id, b.id], calibration: { file: cal.id } };
    const unknownFile = 'file_0000000000000000000000000';
    const unknownJob = 'fus_0000000000000000000000000';

    await anonymous.fetch('/v1/fusions');
    await anonymous.fetch('/v1/files', { method: 'POST', json: { name: 'x', purpose: 'model', size: 1 } });
    await api.fetch('/v1/files/not-an-id');
    await api.fetch(`/v1/files/${unknownFile}`);
    await api.fetch(`/v1/files/${unknownFile}`, { method: 'DELETE' });
    await api.fetch('/v1/files', { method: 'POST', json: { name: 'huge', purpose: 'model', size: 10 ** 12 } });
    await api.fetch('/v1/files', { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } });
    const { file: pending } = (await (await api.fetch('/v1/files', { method: 'POST', json: { name: 'p.safetensors', purpose: 'dataset', size: 16 } })).json()) as { file: FileObject };
    await api.fetch(`/v1/files/${pending.id}/complete`, { method: 'POST' });
    await api.fetch(`/v1/files/${pending.id}/download`);
    await api.fetch(`/v1/files/${pending.id}/content`, { method: 'PUT', body: new Uint8Array(32) });
    await api.fetch(`/v1/files/${pending.id}/content`, { method: 'PUT', body: new Uint8Array(16).fill(7) });
    await api.fetch(`/v1/files/${pending.id}/complete`, { method: 'POST' });
    await api.fetch(`/v1/files/${cal.id}/content`, { method: 'PUT', body: new Uint8Array(4) });
    await api.fetch('/v1/files?status=pending&purpose=dataset');
    await api.fetch('/v1/files?status=done');

    await api.fetch('/v1/fusions', { method: 'POST', json: { ...spec, calibration: { file: misfit.id } } });
    await api.fetch('/v1/fusions', { method: 'POST', json: { ...spec, calibration: { file: unknownFile } } });
    await api.fetch('/v1/fusions', { method: 'POST', json: { ...spec, calibration: { file: pending.id } } });
    await api.fetch('/v1/fusions', { method: 'POST', json: { ...spec, webhook: { url: 'http://169.254.169.254/' } } });
    await api.fetch('/v1/fusions', { method: 'POST', json: spec, headers: { 'idempotency-key': 'k1' } });
    await api.fetch('/v1/fusions', { method: 'POST', json: { ...spec, seed: 2 }, headers: { 'idempotency-key': 'k1' } });
    const job = (await (await api.fetch('/v1/fusions', { method: 'POST', json: spec })).json()) as FusionJob;
    await api.fetch(`/v1/files/${a.id}`, { method: 'DELETE' });
    await api.fetch(`/v1/fusions/${job.id}`, { method: 'DELETE' });
    await api.fetch(`/v1/fusions/${job.id}/outputs`);
    await api.fetch(`/v1/fusions/${job.id}/outputs/report.json`);
    await api.fetch(`/v1/fusions/${job.id}/outputs/report.json/content`);
    await api.fetch(`/v1/fusions/${job.id}/report`);
    await api.fetch(`/v1/fusions/${job.id}/links`, { method: 'POST', json: {} });
    await api.fetch(`/v1/fusions/${job.id}/events`);
    await api.fetch(`/v1/fusions/${job.id}/webhook-deliveries`);
    await api.fetch(`/v1/fusions/${job.id}/cancel`, { method: 'POST' });
    await api.fetch(`/v1/fusions/${job.id}/cancel`, { method: 'POST' });
    await api.fetch(`/v1/fusions/${job.id}`, { method: 'DELETE' });
    await api.fetch(`/v1/fusions/${job.id}`);
    await api.fetch(`/v1/fusions/${unknownJob}/cancel`, { method: 'POST' });
    await api.fetch('/v1/fusions?status=canceled');
    await api.fetch('/v1/version');
    await api.fetch('/v1/webhooks/endpoints', { method: 'POST', json: { url: 'http://10.0.0.1/' } });
    await api.fetch('/v1/webhooks/endpoints', { method: 'POST', json: { url: 'https://example.com/hook' } });
    await api.fetch('/v1/webhooks/endpoints');
    await api.fetch('/v1/webhooks/endpoints/whe_000000000000000000000000', { method: 'DELETE' });
    await api.fetch('/v1/lineages/line/versions', { method: 'POST', json: { file: pending.id } });
    await api.fetch('/v1/lineages/line/versions', { method: 'POST', json: { file: b.id } });
    await api.fetch(`/v1/files/${b.id}`, { method: 'DELETE' });
    await api.fetch('/v1/lineages/line');
    await api.fetch('/v1/lineages/none');
    await api.fetch('/v1/schedules', { method: 'POST', json: { every: 3600, template: spec, output: { lineage: 'out' }, timezone: 'Mars/Base' } });
    await api.fetch('/v1/schedules', { method: 'POST', json: { every: 3600, template: { ...spec, models: [{ name: 'gone', version: 'latest' }, b.id] }, output: { lineage: 'out' } } });

    const statuses = new Set(seen.map((s) => s.status));
    // The flows reached the statuses that matter (so the check below is not vacuous).
    for (const s of [200, 400, 401, 404, 409, 413, 415, 422]) expect(statuses, `no ${s} seen`).toContain(s);
    const undeclared: string[] = [];
    for (const s of seen) {
      const response = doc.paths[s.template]?.[s.method]?.responses[String(s.status)];
      if (!response) {
        undeclared.push(`${s.method.toUpperCase()} ${s.template} → ${s.status}`);
        continue;
      }
      if (s.code === null) continue;
      const codes = response.content?.['application/json']?.schema.properties?.error?.properties.code.enum;
      if (!codes?.includes(s.code)) undeclared.push(`${s.method.toUpperCase()} ${s.template} → ${s.status} ${s.code}`);
    }
    expect(undeclared).toEqual([]);
  });
});
