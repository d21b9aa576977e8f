/**
 * Speed of the engine's MLP forward pass and training per tfjs backend.
 *
 *   node --import tsx gpu-runner/bench/nn-bench.ts [backend ...]
 *
 * Backends default to wasm and cpu (the two that always load); node and
 * node-gpu can be named where installed. Measures (1) a forward pass with
 * taps of 200 samples — the calibration-set size of the paper — through the
 * ablation MLP [784,400,200,100,50,25,10], median of 5 after a warm-up, and
 * (2) one training epoch on 8,000 samples with the paper's recipe (batch 64,
 * lr 0.01, momentum 0.5). Inputs are random: the timings do not depend on the
 * values. Prints a table and writes .out/bench/nn-bench.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { MlpArch } from '@clafusion/model-format/arch';
import { forward, initModel, train } from '../src/engine/nn/index.ts';
import { Rng } from '../src/engine/rng.ts';
import { type BackendName, BACKEND_NAMES, initBackend } from '../src/runtime/backend.ts';

const arch: MlpArch = { family: 'mlp', input: [784], hidden: [400, 200, 100, 50, 25], classes: 10, bias: false };

function randomData(n: number, seed: number) {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = Int32Array.from({ length: n }, () => rng.integer(10));
  return { x: { shape: [n, 784], data: x }, y };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Row {
  backend: BackendName;
  detail: string;
  forward200Ms: number;
  trainEpoch8000Ms: number;
}

async function measure(name: BackendName): Promise<Row> {
  const backend = await initBackend({ env: { CLAFUSION_BACKEND: name } });
  const model = initModel(arch, 0);
  const calib = randomData(200, 1).x;
  forward(model, calib, { taps: true });
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    forward(model, calib, { taps: true });
    times.push(performance.now() - t0);
  }
  const trainSet = randomData(8000, 2);
  const t0 = performance.now();
  await train(model, trainSet, { lr: 0.01, momentum: 0.5, batchSize: 64, epochs: 1, seed: 0 });
  const trainMs = performance.now() - t0;
  return { backend: name, detail: backend.detail, forward200Ms: median(times), trainEpoch8000Ms: trainMs };
}

const requested = process.argv.slice(2);
for (const r of requested) {
  if (!(BACKEND_NAMES as readonly string[]).includes(r)) throw new Error(`unknown backend ${r}`);
}
const backends = (requested.length > 0 ? requested : ['wasm', 'cpu']) as BackendName[];
const rows: Row[] = [];
for (const name of backends) rows.push(await measure(name));

console.log('backend   forward 200 (ms)   train epoch 8000 (ms)   detail');
for (const r of rows) {
  console.log(
    `${r.backend.padEnd(9)} ${r.forward200Ms.toFixed(1).padStart(16)}   ${r.trainEpoch8000Ms.toFixed(0).padStart(21)}   ${r.detail}`,
  );
}
mkdirSync('.out/bench', { recursive: true });
writeFileSync('.out/bench/nn-bench.json', `${JSON.stringify({ arch, rows }, null, 2)}\n`);
