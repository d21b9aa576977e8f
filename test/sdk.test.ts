/**
 * The SDK against the embedded service over real HTTP: uploads from a path,
 * bytes and a stream, createAndWait with progress, downloads identical to
 * the CLI's output, pagination, typed errors, and retries that reuse the
 * idempotency key (through a proxy that loses the first response).
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { RunningServer } from '../api/src/server.ts';
import {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  type FileObject,
  NotFoundError,
  UnprocessableEntityError,
  createClient,
} from '@clafusion/sdk';
import { startEmbedded } from './support/embedded.ts';
import { type Fixtures, fuseWithCli, writeFixtures } from './support/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-sdk-'));
let fixtures: Fixtures;
let server: RunningServer;
let apiKey: string;
let files: { a: FileObject; b: FileObject; cal: FileObject; ev: FileObject };

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  server = await startEmbedded(join(dir, 'store'));
  apiKey = (await createApiKey(server.services.store, 'acme')).token;
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SDK', () => {
  it('uploads from a path, bytes and a stream, fuses with createAndWait and downloads what the CLI writes', async () => {
    const client = createClient({ baseUrl: server.url, apiKey });
    files = {
      a: await client.files.upload(fixtures.a, { purpose: 'model' }),
      b: await client.files.upload(readFileSync(fixtures.b), { purpose: 'model', name: 'model-b.safetensors' }),
      cal: await client.files.upload(createReadStream(fixtures.calibration), {
        purpose: 'dataset',
        name: 'calibration.safetensors',
        size: statSync(fixtures.calibration).size,
      }),
      ev: await client.files.upload(fixtures.evaluation, { purpose: 'dataset' }),
    };
    expect(files.b.model?.arch).toMatchObject({ hidden: [12, 8] });

    const updates: { status: string; progress: number }[] = [];
    const job = await client.fusions.createAndWait(
      { models: [files.a.id, files.b.id], calibration: { file: files.cal.id }, evaluation: { file: files.ev.id }, seed: 7 },
      { onProgress: (u) => updates.push({ status: u.status, progress: u.progress }) },
    );
    expect(job.status).toBe('succeeded');
    expect(updates.at(-1)).toEqual({ status: 'succeeded', progress: 1 });
    for (let i = 1; i < updates.length; i++) expect(updates[i].progress).toBeGreaterThanOrEqual(updates[i - 1].progress);

    const cli = readFileSync(await fuseWithCli(fixtures, ['--seed', '7'], 'cli-fused.safetensors'));
    expect(Buffer.from(await client.fusions.download(job.id, 'fused.safetensors')).equals(cli)).toBe(true);
    await client.fusions.downloadTo(job.id, 'fused.safetensors', join(dir, 'sdk-fused.safetensors'));
    expect(readFileSync(join(dir, 'sdk-fused.safetensors')).equals(cli)).toBe(true);
    expect((await client.fusions.report(job.id)).seed).toBe(7);
    expect(Buffer.from(await client.files.download(files.a.id)).equals(readFileSync(fixtures.a))).toBe(true);
    expect((await client.fusions.outputs(job.id)).map((o) => o.name)).toEqual(['fused.safetensors', 'report.json', 'report.html']);
  });

  it('iterates every page of a list, and replays a job’s events from any point', async () => {
    const client = createClient({ baseUrl: server.url, apiKey });
    const spec = { models: [files.a.id, files.b.id], calibration: { file: files.cal.id } };
    const made = [await client.fusions.create({ ...spec, seed: 1 }), await client.fusions.create({ ...spec, seed: 2 })];
    const seen: string[] = [];
    for await (const job of client.fusions.list({ limit: 1 })) seen.push(job.id);
    expect(seen.slice(0, 2)).toEqual([made[1].id, made[0].id]);
    expect(seen).toHaveLength(3);
    const first = await client.fusions.list({ limit: 2 });
    expect(first.has_more).toBe(true);

    const all: string[] = [];
    for await (const e of client.fusions.stream(made[0].id)) all.push(e.type);
    expect(all.at(-1)).toBe('succeeded');
    const later: number[] = [];
    for await (const e of client.fusions.events(made[0].id, { after: '2', limit: 2 })) later.push(e.seq);
    expect(later).toEqual(Array.from({ length: all.length - 2 }, (_, i) => i + 3));
  });

  it('throws typed errors carrying the API code', async () => {
    const client = createClient({ baseUrl: server.url, apiKey });
    await expect(client.fusions.retrieve('fus_0000000000000000000000000')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.fusions.retrieve('../x')).rejects.toMatchObject({ status: 400, code: 'invalid_request' });
    await expect(client.fusions.retrieve('../x')).rejects.toBeInstanceOf(BadRequestError);
    await expect(createClient({ baseUrl: server.url, apiKey: 'nope' }).fusions.list()).rejects.toBeInstanceOf(AuthenticationError);
    await expect(client.files.upload(new Uint8Array(16), { purpose: 'model', name: 'junk.safetensors' })).rejects.toBeInstanceOf(UnprocessableEntityError);
    const spec = { models: [files.a.id, files.b.id], calibration: { file: files.cal.id } };
    await client.fusions.create(spec, { idempotencyKey: 'k1' });
    const reuse = await client.fusions.create({ ...spec, seed: 3 }, { idempotencyKey: 'k1' }).catch((e: unknown) => e);
    expect(reuse).toBeInstanceOf(ConflictError);
    expect(reuse).toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('retries a lost response with the same Idempotency-Key and gets the one job it made', async () => {
    const { proxy, seen } = await lossyProxy(server.url);
    try {
      const base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const client = createClient({ baseUrl: base, apiKey, retryDelayMs: 10 });
      const before = (await client.fusions.list({ limit: 100 })).data.length;
      const job = await client.fusions.create({ models: [files.a.id, files.b.id], calibration: { file: files.cal.id }, seed: 9 });
      const posts = seen.filter((s) => s.method === 'POST' && s.url === '/v1/fusions');
      expect(posts.map((p) => p.status)).toEqual([502, 200]);
      expect(posts[0].key).toBeTruthy();
      expect(posts[1].key).toBe(posts[0].key);
      const after = (await client.fusions.list({ limit: 100 })).data;
      expect(after.length).toBe(before + 1);
      expect(after[0].id).toBe(job.id);
    } finally {
      proxy.closeAllConnections();
      proxy.close();
    }
  });
});

/** A proxy that forwards everything but answers the first POST /v1/fusions with 502 after the API handled it. */
async function lossyProxy(target: string): Promise<{ proxy: Server; seen: { method: string; url: string; key: string | null; status: number }[] }> {
  const seen: { method: string; url: string; key: string | null; status: number }[] = [];
  let dropped = false;
  const proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k))) as Record<string, string>;
    const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    const body = Buffer.from(await upstream.arrayBuffer());
    const drop = !dropped && req.method === 'POST' && req.url === '/v1/fusions';
    dropped ||= drop;
    const status = drop ? 502 : upstream.status;
    seen.push({ method: req.method!, url: req.url!, key: (req.headers['idempotency-key'] as string) ?? null, status });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(drop ? JSON.stringify({ error: { code: 'internal_error', message: 'bad gateway', details: {} } }) : body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return { proxy, seen };
}
