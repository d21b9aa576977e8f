/**
 * One full-size CNN fusion for `npm run bench`, run in its own process so
 * that its peak memory is its own: `node --import tsx cnn-pair-run.ts vgg|resnet`.
 * Prints one JSON line: per-stage seconds (from the report), the process's
 * resident-set high-water mark, and the tfjs backend's memory: the wasm
 * heap's size (it only grows, so it is the backend's high-water mark) or,
 * on other backends, tfjs's byte count sampled at every progress event.
 *
 * Stage times are process CPU seconds (user + system), not wall-clock: the
 * engine is single-threaded here, so on an idle machine the two agree, and
 * on a shared one (this repository's 2-core bench machine often runs other
 * jobs) CPU time is the number that does not depend on the neighbours. The
 * wall-clock total is reported beside it.
 *
 * Pairs (spec §1.2–1.3, CIFAR-sized input 32×32×3, random weights, 200
 * random calibration images; timings do not depend on the values):
 * - vgg: VGG13_doub (A) and VGG11_half (B), fused as VGG13_student;
 * - resnet: ResNet34 (A) and ResNet18 (B), fused as a ResNet34.
 */
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import type { Arch, ResNetArch, VggArch } from '@clafusion/model-format/arch';
import { initModel } from '../src/engine/nn/init.ts';
import { Rng } from '../src/engine/rng.ts';
import { defaultFusionOptions } from '../src/engine/fusion/options.ts';
import { initBackend } from '../src/runtime/backend.ts';
import { runFusion } from '../src/pipeline/run-fusion.ts';

const vgg = (config: (number | 'M')[]): VggArch => ({ family: 'vgg', input: [32, 32, 3], config, classes: 10, bias: false });
const resnet = (blocks: number[]): ResNetArch => ({ family: 'resnet', input: [32, 32, 3], blocks, widths: [64, 128, 256, 512], classes: 10, bias: false });

export const CNN_PAIRS: Record<string, { A: Arch; B: Arch; label: string }> = {
  vgg: {
    label: 'VGG13_doub ← VGG11_half',
    A: vgg([64, 128, 'M', 256, 256, 'M', 512, 512, 'M', 1024, 1024, 'M', 1024, 512, 'M']),
    B: vgg([64, 'M', 64, 'M', 128, 128, 'M', 256, 256, 'M', 256, 512, 'M']),
  },
  resnet: { label: 'ResNet34 ← ResNet18', A: resnet([3, 4, 6, 3]), B: resnet([2, 2, 2, 2]) },
};

/** The wasm backend's linear memory, which grows and never shrinks; 0 on other backends. */
function wasmHeapBytes(): number {
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  return wasm?.HEAPU8?.buffer.byteLength ?? 0;
}

async function main(name: string) {
  const pair = CNN_PAIRS[name];
  if (!pair) throw new Error(`unknown pair ${name}; use ${Object.keys(CNN_PAIRS).join(' or ')}`);
  const backend = await initBackend();
  const rng = new Rng(7);
  const samples = 200;
  const calibration = { shape: [samples, 3, 32, 32], data: Float32Array.from({ length: samples * 3 * 32 * 32 }, () => rng.normal()) };
  let backendPeak = 0;
  const sample = () => (backendPeak = Math.max(backendPeak, tf.memory().numBytes, wasmHeapBytes()));
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const wall0 = performance.now();
  const { report } = await runFusion(
    {
      models: [
        { model: initModel(pair.A, 0), label: 'A' },
        { model: initModel(pair.B, 1), label: 'B' },
      ],
      calibration,
      samples,
      options: defaultFusionOptions(pair.A.family),
    },
    { backend: backend.detail, now: cpuMs, onProgress: sample },
  );
  sample();
  const wallSeconds = (performance.now() - wall0) / 1000;
  const mapping = report.alignment.groups.map((g) => g.mapping);
  console.log(
    JSON.stringify({
      pair: pair.label,
      backend: backend.detail,
      cpuSeconds: report.timings,
      wallSeconds: Math.round(wallSeconds * 1000) / 1000,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      backendPeakMiB: Math.round(backendPeak / 2 ** 20),
      groupMappings: mapping,
      fusedArch: report.fused.arch,
    }),
  );
}

await main(process.argv[2]);
