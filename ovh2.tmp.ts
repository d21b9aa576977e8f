import { initBackend } from './gpu-runner/src/runtime/backend.ts';
import { initModel } from './gpu-runner/src/engine/nn/init.ts';
import { train } from './gpu-runner/src/engine/nn/train.ts';
import { CLI_NETS } from './gpu-runner/bench/cli-train.ts';
import { readFileSync } from 'node:fs';
await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
const arch = CLI_NETS['vgg13-doub-8'].arch;
const n = 64 * 8;
const data = Float32Array.from({ length: n * 3072 }, (_, i) => Math.sin(i * 0.37));
const d = { x: { shape: [n, 3, 32, 32], data }, y: Int32Array.from({ length: n }, (_, i) => i % 10) };
const cpu = () => { const f = readFileSync('/proc/self/stat', 'utf8'); const x = f.slice(f.lastIndexOf(')') + 2).split(' '); return (Number(x[11]) + Number(x[12])) * 10; };
await train(initModel(arch, 0), d, { lr: 0.01, epochs: 1, seed: 0, batchSize: 64 });
for (const batchSize of [64, 32, 64, 32]) {
  const c0 = cpu();
  await train(initModel(arch, 0), d, { lr: 0.01, epochs: 1, seed: 0, batchSize });
  console.log('batch', batchSize, 'cpu ms per 64 images', (cpu() - c0) / 8);
}
