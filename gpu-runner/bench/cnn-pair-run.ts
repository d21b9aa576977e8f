/**
 * One full-size CNN fusion for `npm run bench`, run in its own process so
 * that its peak memory is its own:
 * `node --import tsx cnn-pair-run.ts vgg|resnet [threads]` (default 1);
 * `RUNNER_RECORD_RUNTIME=tfjs` records the activations on tfjs instead of
 * the default onnxruntime (the run's `recording` says which ran).
 * Prints one JSON line: per-stage seconds (from the report), the process's
 * resident-set high-water mark, and the tfjs backend's memory: the wasm
 * heap's size (it only grows, so it is the backend's high-water mark) or,
 * on other backends, tfjs's byte count sampled at every progress event.
 *
 * With 1 thread, stage times are process CPU seconds (user + system), not
 * wall-clock: the engine is single-threaded then, so on an idle machine the
 * two agree, and on a shared one (this repository's 2-core bench machine
 * often runs other jobs) CPU time is the number that does not depend on the
 * neighbours. With more threads, CPU time counts every thread, so stage times
 * are wall-clock (`clock` says which). The wall-clock total and the process's
 * CPU total are reported beside them.
 *
 * Pairs (spec §1.2–1.3, CIFAR-sized input 32×32×3, random weights, 200
 * random calibration images; timings do not depend on the values):
 * - vgg: VGG13_doub (A) and VGG11_half (B), fused as VGG13_student;
 * - resnet: ResNet34 (A) and ResNet18 (B), fused as a ResNet34.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { type Arch, type Model, type ResNetArch, type VggArch, paramSpecs } from '@clafusion/model-format/arch';
import { initModel } from '../src/engine/nn/init.ts';
import { Rng } from '../src/engine/rng.ts';
import { defaultFusionOptions } from '../src/engine/fusion/options.ts';
import { initBackend } from '../src/runtime/backend.ts';
import { runFusion } from '../src/pipeline/run-fusion.ts';
import { recordRuntimeFromEnv } from '../src/runtime/record-runtime.ts';
import { CNN_PAIRS } from './cnn-pairs.ts';

/** The wasm backend's linear memory, which grows and never shrinks; 0 on other backends. */
function wasmHeapBytes(): number {
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  return wasm?.HEAPU8?.buffer.byteLength ?? 0;
}

/**
 * sha256 of the fused parameters' float32 bytes in state_dict order: the
 * check that a speed change left the output byte-identical.
 */
function paramsSha256(model: Model): string {
  const hash = createHash('sha256');
  for (const spec of paramSpecs(model.arch)) {
    const t = model.params.get(spec.name)!;
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest('hex');
}

async function main(name: string, threads: number) {
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
  const cpu0 = cpuMs();
  const { report, fused } = await runFusion(
    {
      models: [
        { model: initModel(pair.A, 0), label: 'A' },
        { model: initModel(pair.B, 1), label: 'B' },
      ],
      calibration,
      samples,
      options: defaultFusionOptions(pair.A.family),
    },
    { backend: backend.detail, now: threads === 1 ? cpuMs : () => performance.now(), onProgress: sample, threads, recordRuntime: recordRuntimeFromEnv(process.env) },
  );
  sample();
  const wallSeconds = (performance.now() - wall0) / 1000;
  const cpuSeconds = (cpuMs() - cpu0) / 1000;
  const mapping = report.alignment.groups.map((g) => g.mapping);
  console.log(
    JSON.stringify({
      pair: pair.label,
      backend: backend.detail,
      recording: report.recording?.detail ?? null,
      threads,
      clock: threads === 1 ? 'cpu' : 'wall',
      seconds: report.timings,
      wallSeconds: Math.round(wallSeconds * 1000) / 1000,
      cpuSeconds: Math.round(cpuSeconds * 1000) / 1000,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      backendPeakMiB: Math.round(backendPeak / 2 ** 20),
      groupMappings: mapping,
      fusedSha256: paramsSha256(fused),
      fusedArch: report.fused.arch,
    }),
  );
}

await main(process.argv[2], Number(process.argv[3] ?? 1));
