/**
 * Training throughput: tfjs wasm (one thread, and 2-worker data-parallel), tfjs cpu, and PyTorch
 * CPU as the peer, on the same networks, batch size and plain SGD. Random 32×32×3 data.
 *
 *   node --import tsx gpu-runner/bench/train-bench.ts [--quick] [--repeat N] [--cpu-steps N] [--profile] [--net NAME]…
 *
 * Prints a table (images/s, ratio to 2-thread PyTorch, images per CPU second of the whole
 * process, 1-minute load average) and writes gpu-runner/bench/results/train-bench.json. PyTorch
 * runs with 2 threads (the reference) and with 1 thread (the partner of the 1-thread tfjs row).
 * Each net's runners are measured in `--repeat` interleaved rounds (default 3: peers, 1 thread,
 * 2 workers, peers, …) and the table gives each runner's median, so that a burst of other load
 * on the machine hits both sides of a ratio rather than one; the JSON keeps every round with the
 * load average when it started. Wall-clock numbers taken while other work shares the cores are
 * not comparable — 2-thread PyTorch in particular collapses — so check the load column and,
 * better, the usable-cores column (parallelism(): 2 spinning threads vs 1, measured right before
 * every runner; it can still change while the runner runs). `--profile` adds, per net, the
 * CPU time of every wasm kernel in a 1-thread step (CPU rather than wall time: it is what the
 * kernel itself costs, and is much less disturbed by other processes).
 *
 * Then the CLI rows: `clafusion train` itself (a child process, cli-train.ts) on the tiny CNN and
 * VGG13-doub/8 (VGG13_doub, every width / 8) with all cores (`--threads` = the core count) and with
 * 1 thread, interleaved with PyTorch's 2-thread peer on the same net, `--cli-samples` images per
 * epoch (default 2048). The rate is the command's second epoch (its own epoch lines), so process
 * start, data loading and worker start-up are left out; the command's whole wall time is kept in
 * the JSON. `--cli-only` skips the trainer rows above, `--no-cli` the CLI rows.
 * The peer is train_peer.py, run with the first of `python3`, `/usr/bin/python3` that can import
 * torch (Debian's python3-torch installs into the system interpreter, which a pyenv `python3` on
 * PATH does not see); without torch the peer column says why it is missing.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../src/runtime/wasm-kernels/index.ts';
import { DataParallelTrainer } from '../src/runtime/wasm-kernels/data-parallel.ts';
import { SgdTrainer } from '../src/runtime/wasm-kernels/trainer.ts';
import { TRAINING_NETS, initParams } from '../src/runtime/wasm-kernels/training-nets.ts';
import { CLI_NETS, cliTrain, writeRandomImages } from './cli-train.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const cpuStepsArg = args.indexOf('--cpu-steps');
const cpuSteps = cpuStepsArg >= 0 ? Number(args[cpuStepsArg + 1]) : 2;
const repeatArg = args.indexOf('--repeat');
const repeat = repeatArg >= 0 ? Number(args[repeatArg + 1]) : quick ? 1 : 3;
const profile = args.includes('--profile');
/** `--net NAME` (repeatable) limits the run to those nets. */
const onlyNets = args.flatMap((a, i) => (a === '--net' ? [args[i + 1]] : []));
const cliOnly = args.includes('--cli-only');
const withCli = !args.includes('--no-cli');
const cliSamplesArg = args.indexOf('--cli-samples');
const cliSamples = cliSamplesArg >= 0 ? Number(args[cliSamplesArg + 1]) : quick ? 512 : 2048;
const BATCH = 64;
const LR = 0.01;

/** Timed steps per net (after 2 warm-up steps); fewer for the nets that are slow everywhere. */
const NETS: Array<{ net: string; steps: number }> = [
  { net: 'tiny-cnn', steps: quick ? 5 : 30 },
  { net: 'vgg-16-32-64', steps: quick ? 2 : 8 },
  { net: 'resnet18-8-16-32-64', steps: quick ? 2 : 10 },
  { net: 'vgg13-doub-8', steps: quick ? 2 : 10 },
];

function randomBatch(seed: number): { x: Float32Array; labels: Int32Array } {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return {
    x: Float32Array.from({ length: BATCH * 32 * 32 * 3 }, () => next() * 2 - 1),
    labels: Int32Array.from({ length: BATCH }, () => Math.floor(next() * 10)),
  };
}

/** Images per wall-clock second, and per CPU second of the whole process (all its threads). */
interface Rate {
  rate: number;
  perCpuSec: number;
}

async function timeSteps(steps: number, warmup: number, step: () => unknown): Promise<Rate> {
  for (let i = 0; i < warmup; i++) await step();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) await step();
  const c = process.cpuUsage(c0);
  return { rate: (BATCH * steps * 1000) / (performance.now() - t0), perCpuSec: (BATCH * steps * 1e6) / (c.user + c.system) };
}

async function single(backend: string, net: string, steps: number, warmup: number): Promise<Rate> {
  await tf.setBackend(backend);
  await tf.ready();
  const model = TRAINING_NETS[net]();
  const trainer = new SgdTrainer(model, initParams(model), LR);
  const { x, labels } = randomBatch(1);
  try {
    return await timeSteps(steps, warmup, () => trainer.step(x, labels));
  } finally {
    trainer.dispose();
  }
}

/** images/s, and the wall time per step not covered by the slowest worker's own work (message
 * passing, gradient averaging on the main thread, waiting to be scheduled). */
async function dataParallel(net: string, steps: number, workers: number): Promise<Rate & { overheadMsPerStep: number }> {
  const model = TRAINING_NETS[net]();
  const trainer = await DataParallelTrainer.create({ net, initial: initParams(model), learningRate: LR, workers });
  const { x, labels } = randomBatch(1);
  try {
    for (let i = 0; i < 2; i++) await trainer.step(x, labels);
    const before = { ...trainer.stats };
    const r = await timeSteps(steps, 0, () => trainer.step(x, labels));
    const s = trainer.stats;
    return { ...r, overheadMsPerStep: (s.wallMs - before.wallMs - (s.slowestWorkerMs - before.slowestWorkerMs)) / (s.steps - before.steps) };
  } finally {
    await trainer.close();
  }
}

interface PeerResult {
  python?: string;
  torch?: string;
  threads?: number;
  skipped?: string;
  results?: Array<{ net: string; imagesPerSec: number; imagesPerCpuSec: number }>;
}

function runPeer(nets: typeof NETS, threads: number): PeerResult {
  const script = fileURLToPath(new URL('./train_peer.py', import.meta.url));
  const request = JSON.stringify({ threads, nets: nets.map((n) => ({ net: n.net, batch: BATCH, steps: n.steps })) });
  const reasons: string[] = [];
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      const out = JSON.parse(execFileSync(python, [script, request], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as PeerResult;
      if (out.skipped === undefined) return { ...out, python };
      reasons.push(`${python}: ${out.skipped}`);
    } catch (e) {
      reasons.push(`${python}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return { skipped: reasons.join('; ') };
}

/** Per-kernel CPU time (ms per step, calls per step) of `steps` 1-thread wasm steps, after 2 warm-up steps. */
async function profileKernels(net: string, steps: number): Promise<Array<{ kernel: string; ms: number; calls: number }>> {
  await tf.setBackend('wasm');
  await tf.ready();
  const totals = new Map<string, { us: number; calls: number }>();
  const originals = tf.getKernelsForBackend('wasm');
  let depth = 0;
  for (const k of originals) {
    const inner = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel({
      ...k,
      kernelFunc: (a) => {
        // Kernels that call other kernels are charged once, at the outermost call.
        depth++;
        const t = process.cpuUsage();
        try {
          return inner(a);
        } finally {
          depth--;
          if (depth === 0) {
            const u = process.cpuUsage(t);
            const e = totals.get(k.kernelName) ?? { us: 0, calls: 0 };
            e.us += u.user + u.system;
            e.calls++;
            totals.set(k.kernelName, e);
          }
        }
      },
    });
  }
  const model = TRAINING_NETS[net]();
  const trainer = new SgdTrainer(model, initParams(model), LR);
  const { x, labels } = randomBatch(1);
  try {
    for (let i = 0; i < 2; i++) trainer.step(x, labels);
    totals.clear();
    const c0 = process.cpuUsage();
    for (let i = 0; i < steps; i++) trainer.step(x, labels);
    const c = process.cpuUsage(c0);
    const rows = [...totals].map(([kernel, e]) => ({ kernel, ms: e.us / 1000 / steps, calls: e.calls / steps })).sort((p, q) => q.ms - p.ms);
    const kernelMs = rows.reduce((acc, r) => acc + r.ms, 0);
    rows.push({ kernel: '(outside kernels)', ms: (c.user + c.system) / 1000 / steps - kernelMs, calls: 0 });
    return rows;
  } finally {
    trainer.dispose();
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(k);
    }
  }
}

/**
 * How many cores this process can actually use right now: the throughput of 2 threads spinning
 * for `ms` relative to 1. The load average does not tell this (sleeping or I/O-bound processes
 * count too, and a competitor pinned to one core takes half the machine at a load of 1); a value
 * near 1 means the second worker and PyTorch's second thread had no core to run on.
 */
async function parallelism(ms = 400): Promise<number> {
  const code = `const { parentPort } = require('node:worker_threads'); let n = 0; const t = Date.now();
    while (Date.now() - t < ${ms}) { for (let i = 0; i < 1e5; i++) n += i & 1; } parentPort.postMessage(n);`;
  const spin = async (k: number) => {
    const ws = Array.from({ length: k }, () => new Worker(code, { eval: true }));
    const counts = await Promise.all(ws.map((w) => new Promise<number>((resolve) => w.once('message', resolve))));
    await Promise.all(ws.map((w) => w.terminate()));
    return counts.reduce((a, b) => a + b, 0);
  };
  const one = await spin(1);
  return (await spin(2)) / one;
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

registerWasmTrainingKernels();
interface Round {
  /** parallelism() right before this runner ran. */
  cores: number;
  imagesPerSec: number | null;
  /** Images per CPU second of the whole process: much less disturbed by other load than wall time. */
  imagesPerCpuSec: number | null;
  load: number;
  overheadMsPerStep?: number;
  /** CLI rows: wall seconds of the whole command (2 epochs, start-up included). */
  commandSeconds?: number;
}
const rows: Array<{
  net: string;
  runner: string;
  imagesPerSec: number | null;
  imagesPerCpuSec: number | null;
  load: number;
  cores: number;
  rounds: Round[];
  note?: string;
}> = [];
const profiles: Record<string, Array<{ kernel: string; ms: number; calls: number }>> = {};

let peer: PeerResult = {};
for (const spec of NETS.filter((n) => !cliOnly && (onlyNets.length === 0 || onlyNets.includes(n.net)))) {
  const { net, steps } = spec;
  const runners: Array<{ runner: string; rounds: Round[]; note?: string }> = [];
  const runnerRow = (runner: string) => {
    let r = runners.find((x) => x.runner === runner);
    if (r === undefined) runners.push((r = { runner, rounds: [] }));
    return r;
  };
  for (let round = 1; round <= repeat; round++) {
    console.log(`${net}: round ${round}/${repeat}, load ${os.loadavg()[0].toFixed(2)}`);
    // PyTorch with 2 threads is the reference; with 1 thread it pairs with the 1-thread tfjs row,
    // a ratio that stays meaningful when other processes share the cores (a 2-thread intra-op
    // pool collapses then: its threads wait on each other whenever one is descheduled).
    for (const threads of [2, 1]) {
      const load = os.loadavg()[0];
      const cores = await parallelism();
      const p = runPeer([spec], threads);
      if (p.skipped !== undefined) console.log(`  peer skipped: ${p.skipped}`);
      if (threads === 2 && (p.torch !== undefined || peer.torch === undefined)) peer = { ...p, results: undefined };
      const r = p.results?.find((x) => x.net === net);
      const peerRow = runnerRow(`pytorch ${p.torch ?? ''} cpu, ${threads} thread${threads > 1 ? 's' : ''}`.replace('  ', ' '));
      peerRow.rounds.push({ cores, imagesPerSec: r?.imagesPerSec ?? null, imagesPerCpuSec: r?.imagesPerCpuSec ?? null, load });
      if (r === undefined) peerRow.note = p.skipped;
    }
    let load = os.loadavg()[0];
    let cores = await parallelism();
    const one = await single('wasm', net, steps, 2);
    runnerRow('tfjs wasm, 1 thread').rounds.push({ cores, imagesPerSec: one.rate, imagesPerCpuSec: one.perCpuSec, load });
    load = os.loadavg()[0];
    cores = await parallelism();
    const dp = await dataParallel(net, steps, 2);
    runnerRow('tfjs wasm, 2 workers').rounds.push({ cores, imagesPerSec: dp.rate, imagesPerCpuSec: dp.perCpuSec, load, overheadMsPerStep: dp.overheadMsPerStep });
  }
  for (const { runner, rounds, note } of runners) {
    const rates = rounds.map((x) => x.imagesPerSec).filter((x): x is number => x !== null);
    const perCpu = rounds.map((x) => x.imagesPerCpuSec).filter((x): x is number => x !== null);
    rows.push({
      net,
      runner,
      imagesPerSec: rates.length > 0 ? median(rates) : null,
      imagesPerCpuSec: perCpu.length > 0 ? median(perCpu) : null,
      load: median(rounds.map((x) => x.load)),
      cores: median(rounds.map((x) => x.cores)),
      rounds,
      note,
    });
  }
  if (profile) {
    console.log(`${net}: kernel profile…`);
    profiles[net] = await profileKernels(net, quick ? 3 : 10);
  }
}
if (withCli) {
  const dir = mkdtempSync(join(tmpdir(), 'clafusion-train-bench-'));
  try {
    const dataPath = join(dir, 'images.safetensors');
    await writeRandomImages(dataPath, cliSamples);
    const allCores = os.availableParallelism();
    for (const [net, { peer: peerNet }] of Object.entries(CLI_NETS).filter(([n]) => onlyNets.length === 0 || onlyNets.includes(n))) {
      const label = `${net} [clafusion train]`;
      const runners: Array<{ runner: string; rounds: Round[]; note?: string; commandSeconds: number[] }> = [];
      const runnerRow = (runner: string) => {
        let r = runners.find((x) => x.runner === runner);
        if (r === undefined) runners.push((r = { runner, rounds: [], commandSeconds: [] }));
        return r;
      };
      for (let round = 1; round <= repeat; round++) {
        console.log(`${label}: round ${round}/${repeat}, load ${os.loadavg()[0].toFixed(2)}`);
        let load = os.loadavg()[0];
        let cores = await parallelism();
        const p = runPeer([{ net: peerNet, steps: Math.max(4, Math.min(32, Math.round(cliSamples / BATCH))) }], 2);
        if (p.skipped !== undefined) console.log(`  peer skipped: ${p.skipped}`);
        if (p.torch !== undefined || peer.torch === undefined) peer = { ...p, results: undefined };
        const r = p.results?.[0];
        const peerRow = runnerRow(`pytorch ${p.torch ?? ''} cpu, 2 threads`.replace('  ', ' '));
        peerRow.rounds.push({ cores, imagesPerSec: r?.imagesPerSec ?? null, imagesPerCpuSec: r?.imagesPerCpuSec ?? null, load });
        if (r === undefined) peerRow.note = p.skipped;
        for (const threads of [allCores, 1]) {
          load = os.loadavg()[0];
          cores = await parallelism();
          const c = await cliTrain(net, dataPath, cliSamples, threads, join(dir, 'out.safetensors'));
          const row = runnerRow(`clafusion train --threads ${threads}`);
          row.rounds.push({ cores, imagesPerSec: c.imagesPerSec, imagesPerCpuSec: c.imagesPerCpuSec, load });
          row.commandSeconds.push(c.commandSeconds);
        }
      }
      for (const { runner, rounds, note, commandSeconds } of runners) {
        const rates = rounds.map((x) => x.imagesPerSec).filter((x): x is number => x !== null);
        const perCpu = rounds.map((x) => x.imagesPerCpuSec).filter((x): x is number => x !== null);
        rows.push({
          net: label,
          runner,
          imagesPerSec: rates.length > 0 ? median(rates) : null,
          imagesPerCpuSec: perCpu.length > 0 ? median(perCpu) : null,
          load: median(rounds.map((x) => x.load)),
          cores: median(rounds.map((x) => x.cores)),
          rounds: rounds.map((x, i) => (commandSeconds[i] === undefined ? x : { ...x, commandSeconds: commandSeconds[i] })),
          note,
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (cpuSteps > 0 && !cliOnly) {
  console.log(`tiny-cnn: tfjs cpu (${cpuSteps} batches, no warm-up: it is slow)…`);
  const load = os.loadavg()[0];
  const cores = await parallelism();
  const r = await single('cpu', 'tiny-cnn', cpuSteps, 0);
  const round = { cores, imagesPerSec: r.rate, imagesPerCpuSec: r.perCpuSec, load };
  rows.push({ net: 'tiny-cnn', runner: 'tfjs cpu', ...round, rounds: [round] });
}

const peerRate = (net: string) => rows.find((r) => r.net === net && r.runner.startsWith('pytorch') && r.runner.endsWith('2 threads'))?.imagesPerSec ?? null;
const table = rows.map((r) => {
  const p = peerRate(r.net);
  return { ...r, ratioToPytorch: r.imagesPerSec !== null && p !== null ? r.imagesPerSec / p : null };
});
console.log(`\nbatch ${BATCH}, SGD, 32×32×3 random data, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), median of ${repeat} round(s)`);
console.log(`${'net'.padEnd(32)}${'runner'.padEnd(34)}${'images/s'.padStart(10)}${'vs pytorch'.padStart(12)}${'img/cpu-s'.padStart(11)}${'load'.padStart(7)}${'cores'.padStart(7)}`);
const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(v < 10 ? 2 : 0));
for (const r of table) {
  const ratio = r.ratioToPytorch === null ? '' : `${r.ratioToPytorch.toFixed(r.ratioToPytorch < 0.01 ? 4 : 2)}×`;
  console.log(`${r.net.padEnd(32)}${r.runner.padEnd(34)}${fmt(r.imagesPerSec).padStart(10)}${ratio.padStart(12)}${fmt(r.imagesPerCpuSec).padStart(11)}${r.load.toFixed(1).padStart(7)}${r.cores.toFixed(2).padStart(7)}`);
}
for (const [net, rowsOfNet] of Object.entries(profiles)) {
  console.log(`\n${net}: CPU ms per 1-thread step by kernel`);
  for (const r of rowsOfNet) if (r.ms >= 0.05) console.log(`  ${r.kernel.padEnd(28)}${r.ms.toFixed(2).padStart(8)}${r.calls > 0 ? `  ×${r.calls}` : ''}`);
}

const outDir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(outDir, { recursive: true });
const json = {
  date: new Date().toISOString(),
  node: process.version,
  tfjs: tf.version.tfjs,
  cores: os.cpus().length,
  batch: BATCH,
  quick,
  repeat,
  cliSamples: withCli ? cliSamples : null,
  peer: { python: peer.python ?? null, torch: peer.torch ?? null, threads: peer.threads ?? null, skipped: peer.skipped ?? null },
  rows: table,
  ...(profile ? { profileCpuMsPerStep: profiles } : {}),
};
// A --cli-only run keeps the trainer rows of the last full run (with their date) rather than dropping them.
const earlier = cliOnly ? earlierTrainerRows(`${outDir}train-bench.json`) : undefined;
writeFileSync(`${outDir}train-bench.json`, `${JSON.stringify(earlier === undefined ? json : { ...json, earlierTrainerRows: earlier }, null, 2)}\n`);

function earlierTrainerRows(path: string): { date: string; rows: unknown[] } | undefined {
  try {
    const old = JSON.parse(readFileSync(path, 'utf8')) as { date: string; rows: Array<{ net: string }>; earlierTrainerRows?: { date: string; rows: unknown[] } };
    if (old.earlierTrainerRows !== undefined) return old.earlierTrainerRows;
    const rows = old.rows.filter((r) => !r.net.endsWith('[clafusion train]'));
    return rows.length > 0 ? { date: old.date, rows } : undefined;
  } catch {
    return undefined;
  }
}
console.log(`\nwrote ${outDir}train-bench.json`);
