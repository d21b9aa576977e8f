/**
 * The cost and fusion stages of a full-size CNN pair alone, for profiling
 * them without the forward passes:
 * `node --import tsx bench/cnn-fusion-stages.ts vgg|resnet [tap-cache-dir]`.
 *
 * The first run records the taps exactly as cnn-pair-run.ts does (same
 * models, same 200 calibration samples) and, with a cache directory, writes
 * them there; later runs read them back, so every run fuses the same inputs.
 * Prints one JSON line: CPU seconds of the cost and fusion stages, the peak
 * RSS of the fusion part (the process's high-water mark is reset neither by
 * Node nor by Linux, so it is sampled: after loading, and at every progress
 * event) and the sha256 of fusePair's fused parameters (no normalisation
 * follows for these pairs, so it is cnn-pair-run.ts's fusedSha256).
 * With RSS_LOG=1 it also prints the RSS and ArrayBuffer MiB at every stage
 * boundary and layer to stderr, to see where memory peaks.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Model, paramSpecs } from '@clafusion/model-format/arch';
import { initModel } from '../src/engine/nn/init.ts';
import { Rng } from '../src/engine/rng.ts';
import { defaultFusionOptions } from '../src/engine/fusion/options.ts';
import { fusePair } from '../src/engine/fusion/fuse-pair.ts';
import type { FusionHooks, FusionStage } from '../src/engine/fusion/hooks.ts';
import type { Tap } from '../src/engine/fusion/taps.ts';
import { initBackend } from '../src/runtime/backend.ts';
import { createTapRecorder } from '../src/pipeline/record-taps.ts';
import { CNN_PAIRS } from './cnn-pairs.ts';

function paramsSha256(model: Model): string {
  const hash = createHash('sha256');
  for (const spec of paramSpecs(model.arch)) {
    const t = model.params.get(spec.name)!;
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest('hex');
}

function saveTaps(dir: string, role: string, taps: Tap[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${role}.json`), JSON.stringify(taps.map((t) => t.shape)));
  taps.forEach((t, k) => writeFileSync(join(dir, `${role}-${k}.f32`), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)));
}

function loadTaps(dir: string, role: string): Tap[] | null {
  const index = join(dir, `${role}.json`);
  if (!existsSync(index)) return null;
  const shapes = JSON.parse(readFileSync(index, 'utf8')) as number[][];
  return shapes.map((shape, k) => {
    const bytes = readFileSync(join(dir, `${role}-${k}.f32`));
    const data = new Float32Array(bytes.byteLength / 4);
    new Uint8Array(data.buffer).set(bytes);
    return { data, shape };
  });
}

const rssMiB = () => Math.round(process.memoryUsage.rss() / 2 ** 20);
const logRss = (what: string) => {
  if (process.env.RSS_LOG) console.error(what, 'rss', rssMiB(), 'arrayBuffers', Math.round(process.memoryUsage().arrayBuffers / 2 ** 20));
};

async function main(name: string, cacheDir: string | undefined) {
  const pair = CNN_PAIRS[name];
  if (!pair) throw new Error(`unknown pair ${name}; use ${Object.keys(CNN_PAIRS).join(' or ')}`);
  await initBackend();
  const rng = new Rng(7);
  const samples = 200;
  const calibration = { shape: [samples, 3, 32, 32], data: Float32Array.from({ length: samples * 3 * 32 * 32 }, () => rng.normal()) };
  const A = initModel(pair.A, 0);
  const B = initModel(pair.B, 1);
  const options = defaultFusionOptions(pair.A.family);
  const recordTaps = createTapRecorder(calibration, options.activations);
  const roleOf = (model: Model, role: string) => (model === A ? 'A' : model === B ? 'B' : role);
  const cached = new Map<string, Promise<Tap[]>>();
  let peakRss = 0;
  const sampleRss = () => (peakRss = Math.max(peakRss, rssMiB()));
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const seconds: Partial<Record<FusionStage, number>> = {};
  const started = new Map<FusionStage, number>();
  const hooks: FusionHooks = {
    rows: samples,
    record: (model, role) => {
      const key = roleOf(model, role);
      let hit = cached.get(key);
      if (!hit) {
        const fromDisk = cacheDir ? loadTaps(cacheDir, key) : null;
        hit = fromDisk
          ? Promise.resolve(fromDisk)
          : recordTaps(model).then((taps) => {
              if (cacheDir && (key === 'A' || key === 'B')) saveTaps(cacheDir, key, taps);
              return taps;
            });
        cached.set(key, hit);
      }
      return hit;
    },
    release: (model) => void cached.delete(roleOf(model, '')),
    stage: (stage, phase) => {
      logRss(`${stage} ${phase}`);
      sampleRss();
      if (phase === 'start') started.set(stage, cpu());
      else seconds[stage] = Math.round(((seconds[stage] ?? 0) + cpu() - started.get(stage)!) * 1000) / 1000;
    },
    progress: (_stage, _fraction, message) => {
      sampleRss();
      logRss(message);
    },
  };
  const result = await fusePair([A, B], options, hooks);
  sampleRss();
  console.log(
    JSON.stringify({
      pair: pair.label,
      cpuSeconds: { activations: seconds.activations, cost: seconds.cost, fusion: seconds.fusion },
      peakRssSampledMiB: peakRss,
      maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      fusedSha256: paramsSha256(result.fused),
    }),
  );
}

await main(process.argv[2], process.argv[3]);
