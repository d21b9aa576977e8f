/**
 * The fusion's HTML report through the service: the runner renders it next to
 * report.json, the API serves it as a page at /v1/fusions/{id}/report under
 * the caller's auth and tenancy, and it lists among the job's outputs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FusionJob } from '../api/contract/src/index.ts';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { RunningServer } from '../api/src/server.ts';
import { startEmbedded } from './support/embedded.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-report-'));
let fixtures: Fixtures;
let server: RunningServer;
let api: Rest;
let token: string;
let otherToken: string;
let job: FusionJob;

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  server = await startEmbedded(join(dir, 'store'));
  token = (await createApiKey(server.services.store, 'acme')).token;
  otherToken = (await createApiKey(server.services.store, 'globex')).token;
  api = new Rest(server.url, token);
  const [a, b, cal, ev] = await Promise.all([
    api.upload(fixtures.a, 'model'),
    api.upload(fixtures.b, 'model'),
    api.upload(fixtures.calibration, 'dataset'),
    api.upload(fixtures.evaluation, 'dataset'),
  ]);
  const created = await api.json<FusionJob>('/v1/fusions', {
    method: 'POST',
    json: { models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: ev.id } },
  });
  job = await api.waitFor(created.id, (j) => j.status === 'succeeded' || j.status === 'failed');
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, bearer?: string) =>
  fetch(`${server.url}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });

describe('the HTML report through the API', () => {
  it('is an output of every succeeded job', () => {
    expect(job.status).toBe('succeeded');
    expect(job.outputs.map((o) => o.name)).toEqual(['fused.safetensors', 'report.json', 'report.html']);
  });

  it('is served as a locked-down page with the alignment heatmap', async () => {
    const res = await get(`/v1/fusions/${job.id}/report`, token);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html>/i);
    const report = JSON.parse(Buffer.from(await api.download(`/v1/fusions/${job.id}/outputs/report.json/content`)).toString());
    const group = report.alignment.groups[0];
    const cells = html.match(/data-row="\d+" data-col="\d+"/g) ?? [];
    expect(cells).toHaveLength(group.costMatrix.length * group.costMatrix[0].length);
    expect((html.match(/data-mapped="true"/g) ?? []).length).toBe(group.mapping.length);
  });

  it('answers 404 to another tenant and 401 without a key', async () => {
    const other = await get(`/v1/fusions/${job.id}/report`, otherToken);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await get(`/v1/fusions/${job.id}/report`)).status).toBe(401);
  });
});
