/**
 * Model lineages on the embedded service over real HTTP: registering files
 * as numbered versions (concurrently too), describing and listing them,
 * fusing by `{name, version}` and `latest`, tenant isolation, and deletion
 * making references fail with a message that names the lineage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { FileObject, FusionJob, Lineage, ModelVersion } from '../api/contract/src/index.ts';
import type { RunningServer } from '../api/src/server.ts';
import { createClient } from '../sdk/src/index.ts';
import { startEmbedded } from './support/embedded.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-lineages-'));
let fixtures: Fixtures;
let server: RunningServer;
let api: Rest;
let other: Rest;
let files: { a: FileObject; b: FileObject; cal: FileObject };

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  server = await startEmbedded(join(dir, 'store'));
  api = new Rest(server.url, (await createApiKey(server.services.store, 'acme')).token);
  other = new Rest(server.url, (await createApiKey(server.services.store, 'globex')).token);
  files = {
    a: await api.upload(fixtures.a, 'model'),
    b: await api.upload(fixtures.b, 'model'),
    cal: await api.upload(fixtures.calibration, 'dataset'),
  };
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const register = (rest: Rest, name: string, file: string) => rest.fetch(`/v1/lineages/${name}/versions`, { method: 'POST', json: { file } });

describe('lineages', () => {
  it('registers versions 1, 2, … and concurrent registrations never share a number', async () => {
    const first = await api.json<ModelVersion>('/v1/lineages/deep/versions', { method: 'POST', json: { file: files.a.id } });
    expect(first).toMatchObject({ object: 'model_version', lineage: 'deep', version: 1, file: files.a.id, source: { type: 'upload' } });
    const racing = await Promise.all(Array.from({ length: 8 }, () => register(api, 'deep', files.a.id).then((r) => r.json() as Promise<ModelVersion>)));
    expect(racing.map((v) => v.version).sort((x, y) => x - y)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);

    const lineage = await api.json<Lineage>('/v1/lineages/deep');
    expect(lineage.latest?.version).toBe(9);
    expect((await api.json<ModelVersion>('/v1/lineages/deep/versions/latest')).version).toBe(9);
    expect((await api.json<ModelVersion>('/v1/lineages/deep/versions/1')).file).toBe(files.a.id);
    const page = await api.json<{ data: ModelVersion[]; has_more: boolean; next_after: string }>('/v1/lineages/deep/versions?limit=4');
    expect(page.data.map((v) => v.version)).toEqual([9, 8, 7, 6]);
    const next = await api.json<{ data: ModelVersion[] }>(`/v1/lineages/deep/versions?limit=10&after=${page.next_after}`);
    expect(next.data.map((v) => v.version)).toEqual([5, 4, 3, 2, 1]);

    await api.json('/v1/lineages/shallow/versions', { method: 'POST', json: { file: files.b.id } });
    expect((await api.json<{ data: Lineage[] }>('/v1/lineages')).data.map((l) => l.name)).toEqual(['deep', 'shallow']);
  });

  it('refuses datasets, bad names and other tenants’ files; lineages are per tenant', async () => {
    const dataset = await register(api, 'deep', files.cal.id);
    expect(dataset.status).toBe(400);
    expect((await register(api, 'Bad..Name', files.a.id)).status).toBe(400);
    expect((await register(other, 'deep', files.a.id)).status).toBe(404);
    expect((await other.fetch('/v1/lineages/deep')).status).toBe(404);
    expect((await api.fetch('/v1/lineages/deep/versions/99')).status).toBe(404);
  });

  it('fuses by lineage reference (a fixed version and latest) and records which versions it used', async () => {
    const job = await api.json<FusionJob>('/v1/fusions', {
      method: 'POST',
      json: { models: [{ name: 'deep', version: 1 }, { name: 'shallow', version: 'latest' }], calibration: { file: files.cal.id } },
    });
    expect(job.spec.models).toEqual([files.a.id, files.b.id]);
    expect(job.inputs.models.map((m) => m.lineage)).toEqual([
      { name: 'deep', version: 1 },
      { name: 'shallow', version: 1 },
    ]);
    expect((await api.waitFor(job.id, (j) => j.status !== 'queued' && j.status !== 'running')).status).toBe('succeeded');
  });

  it('the SDK registers, reads, lists and deletes; a deleted lineage fails references by name', async () => {
    const client = createClient({ baseUrl: server.url, apiKey: api.key });
    const v = await client.lineages.register('sdk-line', files.b.id);
    expect(v.version).toBe(1);
    expect((await client.lineages.retrieve('sdk-line')).latest?.file).toBe(files.b.id);
    expect((await client.lineages.version('sdk-line', 'latest')).version).toBe(1);
    const names: string[] = [];
    for await (const l of client.lineages.list({ limit: 1 })) names.push(l.name);
    expect(names).toEqual(['deep', 'sdk-line', 'shallow']);
    expect((await client.lineages.versions('sdk-line')).data.map((x) => x.version)).toEqual([1]);

    await client.lineages.delete('sdk-line');
    const res = await api.fetch('/v1/fusions', {
      method: 'POST',
      json: { models: [{ name: 'deep', version: 1 }, { name: 'sdk-line', version: 'latest' }], calibration: { file: files.cal.id } },
    });
    expect(res.status).toBe(404);
    const { error } = (await res.json()) as { error: { message: string; details: Record<string, unknown> } };
    expect(error.message).toContain('sdk-line');
    expect(error.details.field).toBe('models.1');
    // Registering again starts the lineage over.
    expect((await client.lineages.register('sdk-line', files.a.id)).version).toBe(1);
  });
});
