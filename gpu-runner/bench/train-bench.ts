/**
 * Training throughput: tfjs wasm (one thread, and 2-worker data-parallel), tfjs cpu, and PyTorch
 * CPU as the peer, on the same networks, batch size and plain SGD. Random 32×32×3 data.
 *
 *   node --import tsx gpu-runner/bench/train-bench.ts [--quick] [--cpu-steps N]
 *
 * Prints a table (images/s, ratio to PyTorch, 1-minute load average when the row started: numbers
 * taken while other work shares the cores are not comparable) and writes gpu-runner/bench/results/train-bench.json.
 * The peer is train_peer.py, run with the first of `python3`, `/usr/bin/python3` that can import
 * torch (Debian's python3-torch installs into the system interpreter, which a pyenv `python3` on
 * PATH does not see); without torch the peer column says why it is missing.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../src/runtime/wasm-kernels/index.ts';
import { DataParallelTrainer } from '../src/runtime/wasm-kernels/data-parallel.ts';
import { SgdTrainer } from '../src/runtime/wasm-kernels/trainer.ts';
import { TRAINING_NETS, initParams } from '../src/runtime/wasm-kernels/training-nets.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const cpuStepsArg = args.indexOf('--cpu-steps');
const cpuSteps = cpuStepsArg >= 0 ? Number(args[cpuStepsArg + 1]) : 2;
const BATCH = 64;
const LR = 0.01;

/** Timed steps per net (after 2 warm-up steps); fewer for the nets that are slow everywhere. */
const NETS: Array<{ net: string; steps: number }> = [
  { net: 'tiny-cnn', steps: quick ? 5 : 30 },
  { net: 'vgg-16-32-64', steps: quick ? 2 : 8 },
  { net: 'resnet18-8-16-32-64', steps: quick ? 2 : 10 },
];

function randomBatch(seed: number): { x: Float32Array; labels: Int32Array } {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return {
    x: Float32Array.from({ length: BATCH * 32 * 32 * 3 }, () => next() * 2 - 1),
    labels: Int32Array.from({ length: BATCH }, () => Math.floor(next() * 10)),
  };
}

async function timeSteps(steps: number, warmup: number, step: () => unknown): Promise<number> {
  for (let i = 0; i < warmup; i++) await step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  return (BATCH * steps * 1000) / (performance.now() - t0);
}

async function single(backend: string, net: string, steps: number, warmup: number): Promise<number> {
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

async function dataParallel(net: string, steps: number, workers: number): Promise<number> {
  const model = TRAINING_NETS[net]();
  const trainer = await DataParallelTrainer.create({ net, initial: initParams(model), learningRate: LR, workers });
  const { x, labels } = randomBatch(1);
  try {
    return await timeSteps(steps, 2, () => trainer.step(x, labels));
  } finally {
    await trainer.close();
  }
}

interface PeerResult {
  python?: string;
  torch?: string;
  threads?: number;
  skipped?: string;
  results?: Array<{ net: string; imagesPerSec: number }>;
}

function runPeer(nets: typeof NETS): PeerResult {
  const script = fileURLToPath(new URL('./train_peer.py', import.meta.url));
  const request = JSON.stringify({ threads: 2, nets: nets.map((n) => ({ net: n.net, batch: BATCH, steps: n.steps })) });
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

registerWasmTrainingKernels();
const rows: Array<{ net: string; runner: string; imagesPerSec: number | null; load: number; note?: string }> = [];

// Peer and tfjs run back to back per net, so that a burst of other load on the machine hits both
// sides of a ratio rather than one; the load average is recorded next to each row because
// 2-thread PyTorch in particular collapses when the cores are shared.
let peer: PeerResult = {};
for (const spec of NETS) {
  const { net, steps } = spec;
  console.log(`${net}: PyTorch peer…`);
  let load = os.loadavg()[0];
  const p = runPeer([spec]);
  if (p.skipped !== undefined) console.log(`  peer skipped: ${p.skipped}`);
  if (p.torch !== undefined || peer.torch === undefined) peer = { ...p, results: undefined };
  const r = p.results?.find((x) => x.net === net);
  rows.push({ net, runner: `pytorch ${p.torch ?? ''} cpu, ${p.threads ?? 2} threads`.replace('  ', ' '), imagesPerSec: r?.imagesPerSec ?? null, load, note: r ? undefined : p.skipped });
  console.log(`${net}: tfjs wasm…`);
  load = os.loadavg()[0];
  rows.push({ net, runner: 'tfjs wasm, 1 thread', imagesPerSec: await single('wasm', net, steps, 2), load });
  load = os.loadavg()[0];
  rows.push({ net, runner: 'tfjs wasm, 2 workers', imagesPerSec: await dataParallel(net, steps, 2), load });
}
if (cpuSteps > 0) {
  console.log(`tiny-cnn: tfjs cpu (${cpuSteps} batches, no warm-up: it is slow)…`);
  const load = os.loadavg()[0];
  rows.push({ net: 'tiny-cnn', runner: 'tfjs cpu', imagesPerSec: await single('cpu', 'tiny-cnn', cpuSteps, 0), load });
}

const peerRate = (net: string) => rows.find((r) => r.net === net && r.runner.startsWith('pytorch'))?.imagesPerSec ?? null;
const table = rows.map((r) => {
  const p = peerRate(r.net);
  return { ...r, ratioToPytorch: r.imagesPerSec !== null && p !== null ? r.imagesPerSec / p : null };
});
console.log(`\nbatch ${BATCH}, SGD, 32×32×3 random data, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'})`);
console.log(`${'net'.padEnd(22)}${'runner'.padEnd(34)}${'images/s'.padStart(10)}${'vs pytorch'.padStart(12)}${'load'.padStart(7)}`);
for (const r of table) {
  const rate = r.imagesPerSec === null ? 'n/a' : r.imagesPerSec.toFixed(r.imagesPerSec < 10 ? 2 : 0);
  const ratio = r.ratioToPytorch === null ? '' : `${r.ratioToPytorch.toFixed(r.ratioToPytorch < 0.01 ? 4 : 2)}×`;
  console.log(`${r.net.padEnd(22)}${r.runner.padEnd(34)}${rate.padStart(10)}${ratio.padStart(12)}${r.load.toFixed(1).padStart(7)}`);
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
  peer: { python: peer.python ?? null, torch: peer.torch ?? null, threads: peer.threads ?? null, skipped: peer.skipped ?? null },
  rows: table,
};
writeFileSync(`${outDir}train-bench.json`, `${JSON.stringify(json, null, 2)}\n`);
console.log(`\nwrote ${outDir}train-bench.json`);
