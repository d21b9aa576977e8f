/**
 * `npm run load`: load and soak numbers for the service on this machine, on
 * the deployed topology: a private redis-server, the API process (`npm
 * start`'s entry, folder store with its default fsync, BullMQ queue) and
 * separate runner processes (`npm run runner`'s entry), all on loopback.
 *
 *   1. create-job latency percentiles at increasing offered rates (open loop),
 *      against an API with no runners, so only the create path is timed;
 *   2. `--jobs` (1000) small queued jobs drained by `--runners` (2) runner
 *      processes: drain time and rate, and a check that every job ran exactly
 *      once (one `running` event and one terminal event each, succeeded;
 *      nothing crashes here, so a second `running` would be a duplicate);
 *   3. memory (RSS and V8 heap) of the API and of each runner over the drain,
 *      and its growth: the mean of the last third of the samples against the
 *      first third; also the live heap (sampled right after a full GC every
 *      5 s; the processes run with --expose-gc), which tells a leak from
 *      garbage not yet collected;
 *   4. one `--upload-mb` (1024) MiB upload streamed through the API, generated
 *      as it is sent (a valid safetensors dataset, completed and validated),
 *      with the API's memory sampled throughout.
 *
 * Flags: --rates 25,50,100,150,200,300  --seconds 5  --jobs 1000  --runners 2
 *        --upload-mb 1024  --out scripts/load/results/load.json
 * Prints tables and writes JSON. The API runs with RATE_LIMIT_PER_SECOND=0:
 * the per-key rate limit would otherwise answer 429 above 20 requests/s.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CreateFileResult, FileObject, FusionJob, JobEvent } from '../../api/contract/src/index.ts';
import { FolderStore } from '../../api/src/storage/index.ts';
import { layout } from '../../api/contract/src/store-layout.ts';
import { writeFixtures } from '../../test/support/fixtures.ts';
import { type Growth, type RateResult, driveAtRate, growth, mapConcurrent, sampleMemory } from './measure.ts';
import { type MemoryReport, type NodeProcess, freePort, startNode, startRedis, stop, stopAll } from './processes.ts';

const { values: flags } = parseArgs({
  options: {
    rates: { type: 'string', default: '25,50,100,150,200,300' },
    seconds: { type: 'string', default: '5' },
    jobs: { type: 'string', default: '1000' },
    runners: { type: 'string', default: '2' },
    'upload-mb': { type: 'string', default: '1024' },
    out: { type: 'string', default: 'scripts/load/results/load.json' },
  },
});
const rates = flags.rates.split(',').map(Number);
const seconds = Number(flags.seconds);
const jobCount = Number(flags.jobs);
const runnerCount = Number(flags.runners);
const uploadMb = Number(flags['upload-mb']);

const dir = mkdtempSync(join(tmpdir(), 'clafusion-load-'));
const fixtures = writeFixtures(dir);
const round = (v: number) => Math.round(v * 100) / 100;
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

class Api {
  constructor(
    readonly base: string,
    readonly key: string,
  ) {}

  fetch(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
    const { json, ...rest } = init;
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) };
    return fetch(`${this.base}${path}`, { ...rest, headers: { ...headers, ...(rest.headers as Record<string, string>) }, body: json === undefined ? rest.body : JSON.stringify(json) });
  }

  async json<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
    const res = await this.fetch(path, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path} → ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  /** create → PUT (through the API: the folder store has no presigned URLs) → complete. */
  async upload(name: string, purpose: 'model' | 'dataset', size: number, body: RequestInit['body']): Promise<FileObject> {
    const { file, upload } = await this.json<CreateFileResult>('/v1/files', { method: 'POST', json: { name, purpose, size } });
    const put = await fetch(upload.url, {
      method: 'PUT',
      headers: { ...upload.headers, ...(upload.via_api ? { authorization: `Bearer ${this.key}` } : {}) },
      body,
      duplex: 'half',
    } as RequestInit);
    if (!put.ok) throw new Error(`PUT ${upload.url} → ${put.status} ${await put.text()}`);
    return this.json<FileObject>(`/v1/files/${file.id}/complete`, { method: 'POST' });
  }

  async uploadFile(path: string, purpose: 'model' | 'dataset'): Promise<FileObject> {
    const bytes = readFileSync(path);
    return this.upload(basename(path), purpose, bytes.length, bytes);
  }
}

let redisUrl = '';

/** An API process on its own data folder and queue, with the printed development key. */
async function startApi(name: string, queueName: string): Promise<{ proc: NodeProcess; api: Api; dataDir: string }> {
  const dataDir = join(dir, `data-${name}`);
  const port = await freePort();
  const proc = await startNode(
    name,
    'app/start.ts',
    {
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      REDIS_URL: redisUrl,
      QUEUE_NAME: queueName,
      RUNNERS: '0',
      RATE_LIMIT_PER_SECOND: '0',
      MAX_UPLOAD_BYTES: String(Math.max(2 ** 30, uploadMb * 2 ** 20 + 2 ** 20)),
    },
    /development API key.*: (cfk_\S+)/,
  );
  const key = /development API key.*: (cfk_\S+)/.exec(proc.output())![1];
  return { proc, api: new Api(`http://127.0.0.1:${port}`, key), dataDir };
}

async function inputs(api: Api): Promise<{ models: string[]; calibration: { file: string } }> {
  const [a, b, cal] = await Promise.all([api.uploadFile(fixtures.a, 'model'), api.uploadFile(fixtures.b, 'model'), api.uploadFile(fixtures.calibration, 'dataset')]);
  return { models: [a.id, b.id], calibration: { file: cal.id } };
}

/** Phase 1: create-job latency; nothing consumes the queue, so only the create path is timed. */
async function createLatency(): Promise<{ results: RateResult[]; api_memory: Growth }> {
  const { proc, api } = await startApi('api-create', 'load-create');
  const spec = await inputs(api);
  const create = async () => {
    const res = await api.fetch('/v1/fusions', { method: 'POST', json: spec });
    await res.body?.cancel();
    return res.status === 201 || res.status === 200;
  };
  // Warm-up (JIT, connections), not measured.
  await mapConcurrent(Array.from({ length: 50 }), 4, create);
  const from = Date.now();
  const results: RateResult[] = [];
  for (const rate of rates) results.push(await driveAtRate(rate, seconds, 256, create));
  const memory = growth(proc.memory.filter((m) => m.t >= from));
  await stop(proc.child);
  return { results, api_memory: memory };
}

interface DrainResult {
  jobs: number;
  runners: number;
  /** Creating the jobs (16 requests in flight) before any runner started. */
  create_s: number;
  /** From spawning the runner processes until no job was left unfinished. */
  drain_s: number;
  /** From both runners being ready (process started, thread warm) until drained. */
  drain_after_ready_s: number;
  jobs_per_s: number;
  jobs_per_s_after_ready: number;
  succeeded: number;
  ran_exactly_once: number;
  jobs_per_runner: Record<string, number>;
  violations: string[];
}

/** Phase 2: queue N jobs, then start the runner processes and wait until every job is finished. */
async function drain(api: Api, dataDir: string, processes: NodeProcess[]): Promise<{ result: DrainResult; from: number; to: number }> {
  const spec = await inputs(api);
  const createStart = performance.now();
  const ids = await mapConcurrent(
    Array.from({ length: jobCount }, (_, i) => i),
    16,
    async (i) => (await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { ...spec, seed: i } })).id,
  );
  const createS = (performance.now() - createStart) / 1000;
  console.log(`  ${jobCount} jobs queued in ${round(createS)} s; starting ${runnerCount} runner processes`);
  // Unfinished jobs keep an entry under system/active-jobs/ until a runner records their outcome.
  const store = new FolderStore({ root: join(dataDir, 'store') }); // as api/src/adapters.ts folderStoreRoot
  const started = performance.now();
  const runners = await Promise.all(
    Array.from({ length: runnerCount }, (_, i) =>
      startNode(`runner-${i + 1}`, 'app/runner.ts', { DATA_DIR: dataDir, REDIS_URL: redisUrl, QUEUE_NAME: 'load-drain', RUNNER_CONCURRENCY: '1' }, /taking jobs/),
    ),
  );
  processes.push(...runners);
  const ready = performance.now();
  const readyAt = Date.now();
  const deadline = Date.now() + 30 * 60_000;
  let lastReport = Date.now();
  for (;;) {
    const left = await store.list(layout.activeJobs(), { limit: 1 });
    if (left.objects.length === 0) break;
    if (Date.now() > deadline) throw new Error('the drain did not finish within 30 minutes');
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      console.log(`  … ${round((performance.now() - started) / 1000)} s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const ended = performance.now();
  const endedAt = Date.now();
  const drainS = (ended - started) / 1000;
  const afterReadyS = (ended - ready) / 1000;

  let succeeded = 0;
  let once = 0;
  const perRunner: Record<string, number> = {};
  const violations: string[] = [];
  await mapConcurrent(ids, 16, async (id) => {
    const job = await api.json<FusionJob>(`/v1/fusions/${id}`);
    if (job.status === 'succeeded') succeeded++;
    const { data, has_more } = await api.json<{ data: JobEvent[]; has_more: boolean }>(`/v1/fusions/${id}/events?limit=100`);
    const running = data.filter((e) => e.type === 'running');
    const terminal = data.filter((e) => ['succeeded', 'failed', 'canceled'].includes(e.type)).length;
    for (const e of running) {
      const runner = String((e.data as { runner?: unknown }).runner);
      perRunner[runner] = (perRunner[runner] ?? 0) + 1;
    }
    if (running.length === 1 && terminal === 1 && job.status === 'succeeded' && !has_more) once++;
    else violations.push(`${id}: status ${job.status}, ${running.length} running and ${terminal} terminal events${has_more ? ' (more than 100 events)' : ''}`);
  });
  await Promise.all(runners.map((r) => stop(r.child)));
  return {
    result: {
      jobs: jobCount,
      runners: runnerCount,
      create_s: round(createS),
      drain_s: round(drainS),
      drain_after_ready_s: round(afterReadyS),
      jobs_per_s: round(jobCount / drainS),
      jobs_per_s_after_ready: round(jobCount / afterReadyS),
      succeeded,
      ran_exactly_once: once,
      jobs_per_runner: perRunner,
      violations,
    },
    from: readyAt,
    to: endedAt,
  };
}

interface UploadResult {
  megabytes: number;
  bytes: number;
  seconds: number;
  mb_per_s: number;
  completed: boolean;
  api_rss_before_mb: number;
  api_rss_peak_mb: number;
  api_rss_growth_mb: number;
  api_heap_peak_mb: number;
  client_rss_before_mb: number;
  client_rss_peak_mb: number;
  api_samples: { t_s: number; rss_mb: number; heap_mb: number }[];
}

/**
 * Phase 4: one upload of a `uploadMb` MiB safetensors dataset (x: F32
 * [uploadMb·256, 1024]), generated as it is sent, 1 MiB at a time, never held
 * in memory; then completed, so the API validates what it stored.
 */
async function largeUpload(api: Api, proc: NodeProcess): Promise<UploadResult> {
  const dataBytes = uploadMb * 2 ** 20;
  let header = JSON.stringify({ x: { dtype: 'F32', shape: [uploadMb * 256, 1024], data_offsets: [0, dataBytes] } });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const head = new Uint8Array(8 + header.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(header.length), true);
  head.set(new TextEncoder().encode(header), 8);
  const size = head.length + dataBytes;
  const chunk = new Uint8Array(new Float32Array(2 ** 18).map((_, i) => Math.sin(i)).buffer);
  let sent = -1;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent === -1) {
          controller.enqueue(head);
          sent = 0;
        } else if (sent >= dataBytes) {
          controller.close();
        } else {
          controller.enqueue(chunk);
          sent += chunk.length;
        }
      },
    },
    { highWaterMark: 4 },
  );
  global.gc?.();
  const client = sampleMemory(100);
  await new Promise((r) => setTimeout(r, 600));
  const from = Date.now();
  const before = proc.memory.at(-1)!;
  const started = performance.now();
  const file = await api.upload('big.safetensors', 'dataset', size, body);
  const elapsed = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 600));
  const clientSamples = client.stop();
  const during = proc.memory.filter((m) => m.t >= from);
  const peak = Math.max(...during.map((m) => m.rss));
  return {
    megabytes: uploadMb,
    bytes: size,
    seconds: round(elapsed),
    mb_per_s: round(uploadMb / elapsed),
    completed: file.status === 'ready' && file.size === size,
    api_rss_before_mb: mb(before.rss),
    api_rss_peak_mb: mb(peak),
    api_rss_growth_mb: round(mb(peak) - mb(before.rss)),
    api_heap_peak_mb: mb(Math.max(...during.map((m) => m.heap))),
    client_rss_before_mb: clientSamples[0].rss_mb,
    client_rss_peak_mb: Math.max(...clientSamples.map((s) => s.rss_mb)),
    api_samples: during.map((m) => ({ t_s: round((m.t - from) / 1000), rss_mb: mb(m.rss), heap_mb: mb(m.heap) })),
  };
}

function table(rows: Record<string, unknown>[]): string {
  const keys = Object.keys(rows[0] ?? {});
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(keys), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(keys.map((k) => String(r[k]))))].join('\n');
}

function series(samples: MemoryReport[], from: number, to: number): { t_s: number; rss_mb: number; heap_mb: number }[] {
  return samples.filter((m) => m.t >= from && m.t <= to).map((m: MemoryReport) => ({ t_s: round((m.t - from) / 1000), rss_mb: mb(m.rss), heap_mb: mb(m.heap) }));
}

const exit = async (code: number) => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void exit(130));

try {
  const load = loadavg().map(round);
  console.log(`load average at start: ${load.join(', ')} (${cpus().length} cores)`);
  const redisDir = join(dir, 'redis');
  mkdirSync(redisDir);
  redisUrl = (await startRedis(redisDir)).url;

  const create = await createLatency();
  console.log(`\ncreate-job latency (open loop, ${seconds} s per rate, API process with no runners):\n${table(create.results as unknown as Record<string, unknown>[])}`);

  const processes: NodeProcess[] = [];
  const { proc: apiProc, api, dataDir } = await startApi('api', 'load-drain');
  processes.push(apiProc);
  console.log(`\ndraining ${jobCount} jobs with ${runnerCount} runner processes:`);
  const drained = await drain(api, dataDir, processes);
  const d = drained.result;
  console.log(table([{ ...d, jobs_per_runner: Object.values(d.jobs_per_runner).join('/'), violations: d.violations.length }]));
  for (const v of d.violations.slice(0, 20)) console.log(`  violation: ${v}`);
  const inDrain = (m: MemoryReport) => m.t >= drained.from && m.t <= drained.to;
  const memory = processes.map((p) => {
    const live = growth(p.afterGc.filter(inDrain));
    return {
      process: p.name,
      ...growth(p.memory.filter(inDrain)),
      gc_samples: live.samples,
      live_heap_first_mb: live.heap_first_mb,
      live_heap_last_mb: live.heap_last_mb,
      live_heap_growth_mb: live.heap_growth_mb,
    };
  });
  console.log(
    `\nmemory during the drain (MB; mean of the first third of the samples → the last third; live heap: right after a full GC, every 5 s):\n${table(memory as unknown as Record<string, unknown>[])}`,
  );

  console.log(`\nstreaming a ${uploadMb} MiB upload through the API…`);
  const upload = await largeUpload(api, apiProc);
  console.log(table([{ ...upload, api_samples: upload.api_samples.length }]));
  await stop(apiProc.child);

  const result = {
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model,
      memory_gb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: process.platform,
      load_average_at_start: load,
      load_average_at_end: loadavg().map(round),
    },
    date: new Date().toISOString(),
    topology: `redis-server, API process (folder store, fsync on, BullMQ), ${runnerCount} runner processes (concurrency 1 each), loopback`,
    flags: { rates, seconds, jobs: jobCount, runners: runnerCount, upload_mb: uploadMb },
    create_latency: create.results,
    create_phase_api_memory: create.api_memory,
    drain: d,
    drain_memory: memory,
    drain_memory_series: Object.fromEntries(processes.map((p) => [p.name, series(p.memory, drained.from, drained.to)])),
    drain_live_heap_series: Object.fromEntries(processes.map((p) => [p.name, series(p.afterGc, drained.from, drained.to)])),
    upload,
  };
  console.log(`load average at end: ${result.machine.load_average_at_end.join(', ')}`);
  mkdirSync(dirname(flags.out), { recursive: true });
  writeFileSync(flags.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${flags.out}`);
  const ok = d.violations.length === 0 && d.succeeded === jobCount && upload.completed;
  await exit(ok ? 0 : 1);
} catch (err) {
  console.error(err);
  await exit(1);
}

