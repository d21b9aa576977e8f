/**
 * `npm run load`: load and soak numbers for the embedded service, on loopback.
 *
 *   1. create-job latency percentiles at increasing offered rates (a server
 *      with no runners, so only the API's create path is measured);
 *   2. N small queued jobs drained by 2 runners: drain time, and a check that
 *      every job ran exactly once (one `running` event, one terminal event);
 *   3. memory of the process over phases 1–2 (API and runners share it in
 *      the embedded setup);
 *   4. one large upload streamed through `PUT /v1/files/{id}/content` with
 *      memory sampled throughout (default 256 MiB; `--upload-mb 1024` for the
 *      1 GiB requirement).
 *
 * Flags: --rates 20,50,100,200  --seconds 3  --jobs 40  --upload-mb 256  --out PATH
 * Prints a table and writes JSON (default scripts/load/results/load.json).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApiKey } from '../../api/src/auth/api-keys.ts';
import type { CreateFileResult, FileObject, FusionJob, JobEvent } from '../../api/src/contract/index.ts';
import type { FusionQueueData } from '../../api/src/jobs/queue-data.ts';
import { InProcessQueue } from '../../api/src/queue/index.ts';
import { type RunningServer, startServer } from '../../api/src/server.ts';
import { FolderStore } from '../../api/src/storage/index.ts';
import { startRunner } from '../../gpu-runner/src/worker/index.ts';
import { writeFixtures } from '../../test/support/fixtures.ts';
import { Rest } from '../../test/support/rest.ts';
import { type MemorySample, type RateResult, driveAtRate, sampleMemory } from './measure.ts';

const { values: flags } = parseArgs({
  options: {
    rates: { type: 'string', default: '20,50,100,200' },
    seconds: { type: 'string', default: '3' },
    jobs: { type: 'string', default: '40' },
    'upload-mb': { type: 'string', default: '256' },
    out: { type: 'string', default: 'scripts/load/results/load.json' },
  },
});
const rates = flags.rates.split(',').map(Number);
const seconds = Number(flags.seconds);
const jobCount = Number(flags.jobs);
const uploadMb = Number(flags['upload-mb']);

const dir = mkdtempSync(join(tmpdir(), 'clafusion-load-'));
const fixtures = writeFixtures(dir);

async function embedded(root: string, queue: InProcessQueue<FusionQueueData>): Promise<{ server: RunningServer; store: FolderStore }> {
  const store = new FolderStore({ root, fsync: false });
  const server = await startServer({
    store,
    queue,
    host: '127.0.0.1',
    port: 0,
    inProcessRunners: 0,
    requeueOnStart: false,
    maxUploadBytes: Math.max(2 ** 30, uploadMb * 2 ** 20) + 1,
    presignSeconds: 600,
    eventPollMs: 200,
    publicUrl: null,
    rateLimit: null,
  });
  return { server, store };
}

async function inputs(api: Rest): Promise<{ spec: object }> {
  const [a, b, cal] = await Promise.all([api.upload(fixtures.a, 'model'), api.upload(fixtures.b, 'model'), api.upload(fixtures.calibration, 'dataset')]);
  return { spec: { models: [a.id, b.id], calibration: { file: cal.id } } };
}

/** Phase 1: create-job latency; nothing consumes the queue, so only the create path is timed. */
async function createLatency(): Promise<RateResult[]> {
  const queue = new InProcessQueue<FusionQueueData>();
  const { server, store } = await embedded(join(dir, 'store-create'), queue);
  const api = new Rest(server.url, (await createApiKey(store, 'load')).token);
  const { spec } = await inputs(api);
  const results: RateResult[] = [];
  for (const rate of rates) {
    results.push(
      await driveAtRate(rate, seconds, 256, async () => {
        const res = await api.fetch('/v1/fusions', { method: 'POST', json: spec });
        await res.body?.cancel();
        return res.status === 201 || res.status === 200;
      }),
    );
  }
  await server.close();
  await queue.close();
  return results;
}

interface DrainResult {
  jobs: number;
  runners: number;
  drain_s: number;
  jobs_per_s: number;
  succeeded: number;
  ran_exactly_once: number;
  violations: string[];
}

/** Phase 2: queue N jobs, then start 2 runners and wait for all to finish. */
async function drain(): Promise<DrainResult> {
  const queue = new InProcessQueue<FusionQueueData>({ backoff: { type: 'fixed', delayMs: 50 } });
  const { server, store } = await embedded(join(dir, 'store-drain'), queue);
  const api = new Rest(server.url, (await createApiKey(store, 'load')).token);
  const { spec } = await inputs(api);
  const ids: string[] = [];
  for (let i = 0; i < jobCount; i++) ids.push((await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { ...spec, seed: i } })).id);
  const started = performance.now();
  const runners = [startRunner(store, queue), startRunner(store, queue)];
  const pending = new Set(ids);
  while (pending.size > 0) {
    for (const id of [...pending]) {
      const job = await api.json<FusionJob>(`/v1/fusions/${id}`);
      if (['succeeded', 'failed', 'canceled'].includes(job.status)) pending.delete(id);
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
  }
  const drainS = (performance.now() - started) / 1000;
  let succeeded = 0;
  let once = 0;
  const violations: string[] = [];
  for (const id of ids) {
    const job = await api.json<FusionJob>(`/v1/fusions/${id}`);
    if (job.status === 'succeeded') succeeded++;
    const { data } = await api.json<{ data: JobEvent[] }>(`/v1/fusions/${id}/events?limit=100`);
    const running = data.filter((e) => e.type === 'running').length;
    const terminal = data.filter((e) => ['succeeded', 'failed', 'canceled'].includes(e.type)).length;
    if (running === 1 && terminal === 1) once++;
    else violations.push(`${id}: ${running} running, ${terminal} terminal events`);
  }
  await Promise.all(runners.map((r) => r.close()));
  await server.close();
  await queue.close();
  return { jobs: jobCount, runners: 2, drain_s: round(drainS), jobs_per_s: round(jobCount / drainS), succeeded, ran_exactly_once: once, violations };
}

interface UploadResult {
  megabytes: number;
  seconds: number;
  mb_per_s: number;
  rss_before_mb: number;
  rss_peak_mb: number;
  rss_growth_mb: number;
  samples: MemorySample[];
}

/** Phase 4: one upload of `uploadMb` MiB, generated as it is sent (never held in memory). */
async function largeUpload(): Promise<UploadResult> {
  const queue = new InProcessQueue<FusionQueueData>();
  const { server, store } = await embedded(join(dir, 'store-upload'), queue);
  const api = new Rest(server.url, (await createApiKey(store, 'load')).token);
  const size = uploadMb * 2 ** 20;
  const { file } = await api.json<CreateFileResult & { file: FileObject }>('/v1/files', { method: 'POST', json: { name: 'big.safetensors', purpose: 'model', size } });
  const chunk = new Uint8Array(2 ** 20).fill(7);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= size) return controller.close();
        controller.enqueue(chunk);
        sent += chunk.length;
      },
    },
    { highWaterMark: 4 },
  );
  global.gc?.();
  const before = process.memoryUsage().rss;
  const memory = sampleMemory(100);
  const started = performance.now();
  const res = await api.fetch(`/v1/files/${file.id}/content`, { method: 'PUT', body, duplex: 'half' } as RequestInit);
  const text = await res.text();
  const elapsed = (performance.now() - started) / 1000;
  const samples = memory.stop();
  if (!res.ok) throw new Error(`upload failed: ${res.status} ${text}`);
  await server.close();
  await queue.close();
  const peak = Math.max(...samples.map((s) => s.rss_mb));
  const beforeMb = round(before / 2 ** 20);
  return { megabytes: uploadMb, seconds: round(elapsed), mb_per_s: round(uploadMb / elapsed), rss_before_mb: beforeMb, rss_peak_mb: peak, rss_growth_mb: round(peak - beforeMb), samples };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

function table(rows: Record<string, unknown>[]): string {
  const keys = Object.keys(rows[0] ?? {});
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(keys), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(keys.map((k) => String(r[k]))))].join('\n');
}

const soak = sampleMemory(500);
const create = await createLatency();
console.log(`\ncreate-job latency (open loop, ${seconds} s per rate, no runners):\n${table(create as unknown as Record<string, unknown>[])}`);
const drained = await drain();
const soakSamples = soak.stop();
console.log(`\n${jobCount} queued jobs drained by 2 runners:\n${table([{ ...drained, violations: drained.violations.length }])}`);
for (const v of drained.violations) console.log(`  violation: ${v}`);
const rss = soakSamples.map((s) => s.rss_mb);
console.log(`\nmemory over phases 1–2 (API + runners, one process): rss ${Math.min(...rss)}–${Math.max(...rss)} MB, heap at end ${soakSamples.at(-1)?.heap_mb} MB, ${soakSamples.length} samples`);
const upload = await largeUpload();
console.log(`\nstreamed upload:\n${table([{ ...upload, samples: upload.samples.length }])}`);

const result = {
  machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
  date: new Date().toISOString(),
  flags: { rates, seconds, jobs: jobCount, upload_mb: uploadMb },
  create_latency: create,
  drain: drained,
  memory: soakSamples,
  upload,
};
mkdirSync(dirname(flags.out), { recursive: true });
writeFileSync(flags.out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nwrote ${flags.out}`);
rmSync(dir, { recursive: true, force: true });
process.exit(drained.violations.length === 0 && drained.succeeded === jobCount ? 0 : 1);
