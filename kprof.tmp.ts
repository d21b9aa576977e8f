import * as tf from '@tensorflow/tfjs';
import { initBackend } from './gpu-runner/src/runtime/backend.ts';
import { initModel } from './gpu-runner/src/engine/nn/init.ts';
import { train } from './gpu-runner/src/engine/nn/train.ts';
import { CLI_NETS } from './gpu-runner/bench/cli-train.ts';
await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
const net = process.argv[2] ?? 'vgg13-doub-8';
const arch = CLI_NETS[net].arch;
const n = 64 * 6;
const data = Float32Array.from({ length: n * 3072 }, (_, i) => Math.sin(i * 0.37));
const d = { x: { shape: [n, 3, 32, 32], data }, y: Int32Array.from({ length: n }, (_, i) => i % 10) };
await train(initModel(arch, 0), d, { lr: 0.01, epochs: 1, seed: 0, threads: 1 }); // warm-up
const totals = new Map<string, { us: number; calls: number }>();
let depth = 0;
for (const k of tf.getKernelsForBackend('wasm')) {
  const inner = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, 'wasm');
  tf.registerKernel({ ...k, kernelFunc: (a) => { depth++; const t = process.cpuUsage(); try { return inner(a); } finally { depth--; if (depth === 0) { const u = process.cpuUsage(t); const e = totals.get(k.kernelName) ?? { us: 0, calls: 0 }; e.us += u.user + u.system; e.calls++; totals.set(k.kernelName, e); } } } });
}
const c0 = process.cpuUsage();
await train(initModel(arch, 0), d, { lr: 0.01, epochs: 1, seed: 0, threads: 1 });
const c = process.cpuUsage(c0);
const steps = n / 64;
let sum = 0;
for (const [k, e] of [...totals].sort((a, b) => b[1].us - a[1].us).slice(0, 25)) { sum += e.us; console.log(k.padEnd(28), (e.us / 1000 / steps).toFixed(2), 'ms/step  x', e.calls / steps); }
console.log('total ms/step', (c.user + c.system) / 1000 / steps, 'kernels', sum / 1000 / steps);
