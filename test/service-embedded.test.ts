/**
 * The embedded default, in this process for speed: folder store, in-process
 * queue and in-process runner behind the real HTTP server on 127.0.0.1. The
 * flows a curl user follows, checked end to end, down to fused bytes
 * identical to the CLI's.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRouter } from '../api/src/trpc/app-router.ts';
import type { FileObject, FusionJob, JobEvent, ListPage } from '../api/contract/src/index.ts';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { RunningServer } from '../api/src/server.ts';
import { initModel } from '../gpu-runner/src/engine/nn/init.ts';
import { OFFICIAL_MLP_NAMING, fromCanonical } from '../gpu-runner/model-format/src/naming.ts';
import { serializeSafetensors } from '../gpu-runner/model-format/src/safetensors.ts';
import { startEmbedded } from './support/embedded.ts';
import { ARCH_B, type Fixtures, datasetBytes, fuseWithCli, writeFixtures } from './support/fixtures.ts';
import { Rest } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-embedded-'));
let fixtures: Fixtures;
let server: RunningServer;
let api: Rest;
let cliFused: Uint8Array;

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  server = await startEmbedded(join(dir, 'store'));
  api = new Rest(server.url, (await createApiKey(server.services.store, 'acme')).token);
  cliFused = readFileSync(await fuseWithCli(fixtures, ['--seed', '7'], 'cli-fused.safetensors'));
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded service: folder store + in-process queue and runner', () => {
  let a: FileObject, b: FileObject, cal: FileObject, ev: FileObject;
  const spec = () => ({ models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: ev.id }, seed: 7 });

  it('uploads, fuses, streams events and serves the same bytes as the CLI', async () => {
    a = await api.upload(fixtures.a, 'model');
    b = await api.upload(fixtures.b, 'model');
    cal = await api.upload(fixtures.calibration, 'dataset');
    ev = await api.upload(fixtures.evaluation, 'dataset');
    expect(a).toMatchObject({ status: 'ready', model: { arch: { family: 'mlp', hidden: [12, 10, 8] }, arch_source: 'metadata' } });
    expect(cal.dataset).toEqual({ samples: 40, sample_shape: [16], x_dtype: 'F32', labels: false });
    expect(ev.dataset?.labels).toBe(true);

    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec() });
    expect(job.status).toMatch(/queued|running/);
    const events = await api.streamEvents(job.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0].type).toBe('queued');
    expect(events.at(-1)!.type).toBe('succeeded');
    expect(events.filter((e) => e.type === 'progress').length).toBeGreaterThan(3);

    // Reconnecting with Last-Event-ID resumes right after that event.
    const resumed = await api.streamEvents(job.id, events[2].id);
    expect(resumed.map((e) => e.seq)).toEqual(events.slice(3).map((e) => e.seq));

    const done = await api.json<FusionJob>(`/v1/fusions/${job.id}`);
    expect(done).toMatchObject({ status: 'succeeded', progress: 1, attempts: 1, error: null });
    expect(done.metrics?.accuracy?.models).toHaveLength(2);
    const fused = await api.download(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`);
    expect(Buffer.from(fused).equals(Buffer.from(cliFused))).toBe(true);
    const report = JSON.parse(Buffer.from(await api.download(`/v1/fusions/${job.id}/outputs/report.json/content`)).toString());
    expect(report.seed).toBe(7);
  });

  it('Idempotency-Key: same key and body give the same job, another body is a 409', async () => {
    const headers = { 'idempotency-key': 'order-42' };
    const first = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec(), headers });
    // Same body with keys in another order: still the same request.
    const reordered = { seed: 7, evaluation: { file: ev.id }, calibration: { file: cal.id }, models: [a.id, b.id] };
    const again = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: reordered, headers });
    expect(again.id).toBe(first.id);
    const other = await api.fetch('/v1/fusions', { method: 'POST', json: { ...spec(), seed: 8 }, headers });
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ error: { code: 'idempotency_key_reused' } });
    await api.waitFor(first.id, (j) => j.status === 'succeeded');
  });

  it('lists jobs newest first with cursor pagination', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { ...spec(), seed: 100 + i } })).id);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: ListPage<FusionJob> = await api.json(`/v1/fusions?limit=2${after ? `&after=${after}` : ''}`);
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((j) => j.id));
      after = page.has_more ? page.next_after : null;
    } while (after);
    expect(seen.slice(0, 3)).toEqual([...made].reverse());
    expect(new Set(seen).size).toBe(seen.length);
    const events: ListPage<JobEvent> = await api.json(`/v1/fusions/${made[0]}/events?after=0&limit=1`);
    expect(events.data.map((e) => e.type)).toEqual(['queued']);
    for (const id of made) await api.waitFor(id, (j) => j.status === 'succeeded');
  });

  it('cancels a running job at its next step and a finished one is a 409', async () => {
    // Runners keep their fusion thread warm, so a plain job on these fixtures
    // ends in milliseconds; finetuning on a larger labelled set keeps this one
    // running long after the cancel arrives (which stops it at once).
    writeFileSync(join(dir, 'long-train.safetensors'), datasetBytes(5000, 21, true));
    const train = await api.upload(join(dir, 'long-train.safetensors'), 'dataset');
    const long = { ...spec(), seed: 11, finetune: { epochs: 200, train: { file: train.id }, batch_size: 8 } };
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: long });
    await api.waitFor(job.id, (j) => j.status !== 'queued', 30_000);
    const canceled = await api.json<FusionJob>(`/v1/fusions/${job.id}/cancel`, { method: 'POST' });
    expect(['running', 'canceled']).toContain(canceled.status);
    const final = await api.waitFor(job.id, (j) => j.status === 'canceled');
    expect(final.outputs).toEqual([]);
    const events = await api.streamEvents(job.id);
    expect(events.filter((e) => ['succeeded', 'failed', 'canceled'].includes(e.type)).map((e) => e.type)).toEqual(['canceled']);
    // Canceling again is harmless; a succeeded job cannot be canceled.
    expect((await api.json<FusionJob>(`/v1/fusions/${job.id}/cancel`, { method: 'POST' })).status).toBe('canceled');
    const done = (await api.json<ListPage<FusionJob>>('/v1/fusions?limit=100')).data.find((j) => j.status === 'succeeded')!;
    const refused = await api.fetch(`/v1/fusions/${done.id}/cancel`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: { code: 'job_not_cancelable' } });
  });

  it('tRPC at /trpc: the same procedures, and a subscription that resumes after the last tracked id', async () => {
    const authorization = `Bearer ${api.key}`;
    const url = `${server.url}/trpc`;
    const client = createTRPCClient<AppRouter>({
      links: [
        splitLink({
          condition: (op) => op.type === 'subscription',
          true: httpSubscriptionLink({
            url,
            EventSource,
            eventSourceOptions: { fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, authorization } }) },
          }),
          false: httpBatchLink({ url, headers: { authorization } }),
        }),
      ],
    });
    const job = await client.fusions.create.mutate({ ...spec(), seed: 21 });
    const collect = (lastEventId: string | null) =>
      new Promise<JobEvent[]>((resolve, reject) => {
        const got: JobEvent[] = [];
        const sub = client.fusions.stream.subscribe(
          { id: job.id, lastEventId },
          {
            onData: ({ id, data }) => {
              expect(id).toBe(data.id);
              got.push(data);
              if (['succeeded', 'failed', 'canceled'].includes(data.type)) {
                sub.unsubscribe();
                resolve(got);
              }
            },
            onError: reject,
          },
        );
      });
    const all = await collect(null);
    expect(all.at(-1)!.type).toBe('succeeded');
    const resumed = await collect(all[2].id);
    expect(resumed.map((e) => e.seq)).toEqual(all.slice(3).map((e) => e.seq));
    expect((await client.fusions.get.query({ id: job.id })).status).toBe('succeeded');
    const wrong = await client.fusions.get.query({ id: '../etc' }).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ data: { httpStatus: 400, error: { code: 'invalid_request' } } });
    expect(JSON.stringify(wrong)).not.toMatch(/stack|\.ts:/);
  });

  it('restarting the service loses nothing: a queued job is picked up by the next process', async () => {
    const root = join(dir, 'restart-store');
    const first = await startEmbedded(root, 0);
    const key = (await createApiKey(first.services.store, 'restart')).token;
    const before = new Rest(first.url, key);
    const inputs = await Promise.all([
      before.upload(fixtures.a, 'model'),
      before.upload(fixtures.b, 'model'),
      before.upload(fixtures.calibration, 'dataset'),
    ]);
    const job = await before.json<FusionJob>('/v1/fusions', {
      method: 'POST',
      json: { models: [inputs[0].id, inputs[1].id], calibration: { file: inputs[2].id }, seed: 7 },
    });
    expect(job.status).toBe('queued');
    await first.close();

    const second = await startEmbedded(root, 1);
    try {
      const after = new Rest(second.url, key);
      const events = await after.streamEvents(job.id);
      expect(events.map((e) => e.type)).toContain('running');
      expect(events.at(-1)!.type).toBe('succeeded');
      const fused = await after.download(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`);
      // Evaluation data never changes the fused weights: the CLI without --eval gives the same bytes.
      const cliNoEval = readFileSync(await fuseWithCli(fixtures, ['--seed', '7'], 'cli-fused-noeval.safetensors', false));
      expect(Buffer.from(fused).equals(cliNoEval)).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('fails a job whose weights the engine refuses, at once, with a reason naming the tensor', async () => {
    const model = initModel(ARCH_B, 2);
    model.params.get('fc2.weight')!.data[3] = Number.NaN;
    const tensors = fromCanonical(model, OFFICIAL_MLP_NAMING);
    const path = join(dir, 'nan.safetensors');
    writeFileSync(path, serializeSafetensors(tensors, { arch: JSON.stringify(ARCH_B) }));
    // The header is fine, so the upload completes; values are the runner's to check.
    const nan = await api.upload(path, 'model');
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { ...spec(), models: [a.id, nan.id] } });
    const failed = await api.waitFor(job.id, (j) => j.status === 'failed');
    expect(failed.attempts).toBe(1);
    expect(failed.error).toMatchObject({ code: 'invalid_input', details: { engine_code: 'NON_FINITE', tensor: 'fc2.weight' } });
    expect(failed.error!.message).toMatch(/fc2\.weight contains NaN/);
    await expect(api.fetch(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`).then((r) => r.status)).resolves.toBe(409);
  });
});
