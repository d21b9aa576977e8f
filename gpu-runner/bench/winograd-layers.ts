/**
 * One training step's three convolutions of single 3×3 stride-1 layers, Winograd F(2×2, 3×3)
 * (runtime/wasm-kernels/winograd.ts) against the paths they replaced on the wasm backend: XNNPACK's
 * direct convolution (forward, and the input gradient as a convolution with the rotated filter)
 * and the im2col filter gradient (conv2d-backprop-filter.ts).
 *
 *   node --import tsx gpu-runner/bench/winograd-layers.ts [--reps N]
 *
 * Layers: the widths of the paper's CNNs at CIFAR size (ResNet/VGG stages 64…512) and the small
 * VGG13-doub/8 of bench:train, batch 64, 'same' padding. Wall milliseconds per call, median of
 * `--reps` (default 5) after 2 warm-up calls; writes bench/results/winograd-layers.json.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { filterGradient } from '../src/runtime/wasm-kernels/conv2d-backprop-filter.ts';
import { registerWasmTrainingKernels } from '../src/runtime/wasm-kernels/index.ts';
import { type BackendWasm, callStock, dispose } from '../src/runtime/wasm-kernels/wasm-backend.ts';
import { winogradConv, winogradFilterGrad, winogradGeometry } from '../src/runtime/wasm-kernels/winograd.ts';
import { machine, median, writeJson } from './bench-support.ts';

const args = process.argv.slice(2);
const repsArg = args.indexOf('--reps');
const reps = repsArg >= 0 ? Number(args[repsArg + 1]) : 5;
if (!Number.isInteger(reps) || reps < 1) {
  console.error(`--reps: expected a whole number of calls ≥ 1, got ${JSON.stringify(args[repsArg + 1] ?? null)}`);
  process.exit(2);
}
const BATCH = 64;
/** [map side, in channels, out channels] */
const LAYERS: Array<[number, number, number]> = [
  [32, 64, 64],
  [16, 128, 128],
  [8, 256, 256],
  [4, 512, 512],
  [32, 8, 16],
  [16, 32, 32],
  [4, 128, 128],
];

registerWasmTrainingKernels();
await tf.setBackend('wasm');
await tf.ready();
const backend = tf.backend() as BackendWasm;

function time(run: () => tf.TensorInfo): number {
  for (let i = 0; i < 2; i++) dispose(backend, run());
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    const out = run();
    ms.push(performance.now() - t);
    dispose(backend, out);
  }
  return median(ms);
}

const rows = [];
console.log(`batch ${BATCH}, 3×3 'same', wall ms per call (median of ${reps}); stock = XNNPACK / im2col`);
console.log('layer'.padEnd(20) + ['forward', 'input grad', 'filter grad'].map((h) => `${h}: stock → winograd`.padStart(30)).join(''));
for (const [side, inC, outC] of LAYERS) {
  const x = tf.randomNormal([BATCH, side, side, inC]);
  const w = tf.randomNormal([3, 3, inC, outC]);
  const dy = tf.randomNormal([BATCH, side, side, outC]);
  const info = tf.backend_util.computeConv2DInfo([BATCH, side, side, inC], [3, 3, inC, outC], 1, 1, 'same', undefined, false, 'channelsLast');
  const g = winogradGeometry(info)!;
  const back = { ...g, inC: outC, outC: inC };
  const conv = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
  // The stock input gradient is XNNPACK's convolution of dy with the rotated, channel-swapped filter.
  const rotated = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]);
  const row = {
    layer: `${side}×${side} ${inC}→${outC}`,
    forward: { stock: time(() => callStock('Conv2D', { inputs: { x, filter: w }, backend, attrs: conv })), winograd: time(() => winogradConv(backend, x, w, g, false)) },
    inputGrad: { stock: time(() => callStock('Conv2D', { inputs: { x: dy, filter: rotated }, backend, attrs: conv })), winograd: time(() => winogradConv(backend, dy, w, back, true)) },
    filterGrad: { stock: time(() => filterGradient(backend, x, dy, info, [3, 3, inC, outC])), winograd: time(() => winogradFilterGrad(backend, x, dy, g)) },
  };
  rows.push(row);
  const cell = ({ stock, winograd }: { stock: number; winograd: number }) => `${stock.toFixed(1)} → ${winograd.toFixed(1)} (${(stock / winograd).toFixed(1)}×)`.padStart(30);
  console.log(row.layer.padEnd(20) + cell(row.forward) + cell(row.inputGrad) + cell(row.filterGrad));
  tf.dispose([x, w, dy, rotated]);
}

const out = fileURLToPath(new URL('./results/winograd-layers.json', import.meta.url));
writeJson(out, { date: new Date().toISOString(), machine: machine(), tfjs: tf.version.tfjs, batch: BATCH, reps, unit: 'wall ms per call, median', rows });
console.log(`\nwrote ${out}`);
