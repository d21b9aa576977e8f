/**
 * `clafusion train` as a user runs it, for bench:train: a child process per
 * run on a dataset file of random 32×32×3 images, one epoch timed from the
 * command's own per-epoch lines.
 *
 * The command runs 2 epochs; the rate is the images of epoch 2 over the time
 * between the epoch-1 and epoch-2 lines on stderr (steady state: no process
 * start, data loading or worker start-up, which are reported separately as
 * the whole command's wall time).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { VggArch } from '@clafusion/model-format/arch';
import { writeDatasetSafetensors } from '../src/io/datasets.ts';
import { VGG13_DOUB_8_CONFIG } from '../src/runtime/wasm-kernels/training-nets.ts';

/** The nets the CLI rows train, as `--arch` values, and the matching train_peer.py builder. */
export const CLI_NETS: Record<string, { arch: VggArch; peer: string; label: string }> = {
  'tiny-cnn': {
    label: 'tiny CNN (16/32/64)',
    peer: 'tiny-cnn',
    arch: { family: 'vgg', input: [32, 32, 3], config: [16, 'M', 32, 'M', 64, 'M'], classes: 10, bias: true },
  },
  'vgg13-doub-8': {
    label: 'VGG13-doub/8',
    peer: 'vgg13-doub-8',
    arch: { family: 'vgg', input: [32, 32, 3], config: VGG13_DOUB_8_CONFIG, classes: 10, bias: false },
  },
};

/** Writes `n` random NCHW 32×32×3 images with labels (a deterministic generator) to `path`. */
export async function writeRandomImages(path: string, n: number): Promise<void> {
  let s = 12345;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const data = Float32Array.from({ length: n * 3 * 32 * 32 }, () => next() * 2 - 1);
  const y = Int32Array.from({ length: n }, () => Math.floor(next() * 10));
  await writeDatasetSafetensors(path, { x: { shape: [n, 3, 32, 32], data }, y });
}

export interface CliTrainRate {
  /** Images per second of epoch 2. */
  imagesPerSec: number;
  /** Wall seconds of the whole command (process start, data, workers, 2 epochs, write). */
  commandSeconds: number;
  /** Images per CPU second (all the child's threads) over epoch 2; null where /proc is missing. */
  imagesPerCpuSec: number | null;
}

const BIN = fileURLToPath(new URL('../bin/clafusion.js', import.meta.url));

/** Runs `clafusion train` for 2 epochs of `samples` images at batch 64, plain SGD (lr 0.01, no momentum). */
export function cliTrain(net: string, dataPath: string, samples: number, threads: number, out: string, extraNodeArgs: string[] = []): Promise<CliTrainRate> {
  const { arch } = CLI_NETS[net];
  const argv = [
    ...extraNodeArgs, BIN, 'train', '--arch', JSON.stringify(arch), '--data', dataPath, '--out', out,
    '--epochs', '2', '--batch', '64', '--lr', '0.01', '--momentum', '0', '--seed', '1', '--threads', String(threads),
    // Not --quiet: that silences the epoch lines this reads (the progress lines are a few per epoch).
  ];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLAFUSION_BACKEND: 'wasm' } });
    const epochAt: number[] = [];
    const epochCpu: (number | null)[] = [];
    let stderr = '';
    let pending = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!/^epoch \d+\/2 /.test(line)) continue;
        epochAt.push(performance.now());
        epochCpu.push(cpuSeconds(child.pid));
      }
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('exit', (code) => {
      const commandSeconds = (performance.now() - t0) / 1000;
      if (code !== 0 || epochAt.length !== 2) return reject(new Error(`clafusion train exited with ${code}: ${stderr.slice(-2000)}`));
      const [c0, c1] = epochCpu;
      const imagesPerCpuSec = c0 === null || c1 === null || c1 <= c0 ? null : samples / (c1 - c0);
      resolve({ imagesPerSec: (samples * 1000) / (epochAt[1] - epochAt[0]), commandSeconds, imagesPerCpuSec });
    });
  });
}

/** user + system CPU seconds of process `pid`, all threads (/proc/PID/stat, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number | undefined): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}
