/**
 * Tiny inputs for service tests: two randomly initialised MLPs of different
 * depth (as the engine would read them from PyTorch), a calibration set and a
 * labelled evaluation set, written as safetensors files. Nothing is trained
 * or downloaded; a fusion of these takes well under a second.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Arch } from '../../gpu-runner/model-format/src/arch.ts';
import { initModel } from '../../gpu-runner/src/engine/nn/init.ts';
import { Rng } from '../../gpu-runner/src/engine/rng.ts';
import { OFFICIAL_MLP_NAMING } from '../../gpu-runner/model-format/src/naming.ts';
import { serializeModel } from '../../gpu-runner/src/io/model-file.ts';
import { serializeSafetensors } from '../../gpu-runner/model-format/src/safetensors.ts';
import { CLI, runCli } from '../../gpu-runner/test/support/cli.ts';

export const INPUT = 16;
export const CLASSES = 4;
export const ARCH_A: Arch = { family: 'mlp', input: [INPUT], hidden: [12, 10, 8], classes: CLASSES, bias: false };
export const ARCH_B: Arch = { family: 'mlp', input: [INPUT], hidden: [12, 8], classes: CLASSES, bias: false };

export interface Fixtures {
  dir: string;
  a: string;
  b: string;
  calibration: string;
  evaluation: string;
}

export function modelBytes(arch: Arch, seed: number): Uint8Array {
  return serializeModel(initModel(arch, seed), OFFICIAL_MLP_NAMING);
}

export function datasetBytes(rows: number, seed: number, labels: boolean): Uint8Array {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: rows * INPUT }, () => rng.normal());
  const tensors: [string, { dtype?: 'F32' | 'I64'; shape: number[]; data: ArrayLike<number> }][] = [['x', { shape: [rows, INPUT], data: x }]];
  if (labels) tensors.push(['y', { dtype: 'I64', shape: [rows], data: Array.from({ length: rows }, () => rng.integer(CLASSES)) }]);
  return serializeSafetensors(tensors);
}

export function writeFixtures(dir: string): Fixtures {
  const f: Fixtures = {
    dir,
    a: join(dir, 'model-a.safetensors'),
    b: join(dir, 'model-b.safetensors'),
    calibration: join(dir, 'calibration.safetensors'),
    evaluation: join(dir, 'eval.safetensors'),
  };
  writeFileSync(f.a, modelBytes(ARCH_A, 1));
  writeFileSync(f.b, modelBytes(ARCH_B, 2));
  writeFileSync(f.calibration, datasetBytes(40, 3, false));
  writeFileSync(f.evaluation, datasetBytes(30, 4, true));
  return f;
}

/** Runs the real CLI on the same inputs, as a user would, and returns the path of its fused model. */
export async function fuseWithCli(f: Fixtures, extra: string[], out: string, withEval = true): Promise<string> {
  const path = join(f.dir, out);
  const evalArgs = withEval ? ['--eval', f.evaluation] : [];
  const run = await runCli(['fuse', '--model', f.a, '--model', f.b, '--calibration', f.calibration, ...evalArgs, '--out', path, '--quiet', ...extra]);
  if (run.code !== 0) throw new Error(`${CLI} failed (${run.code}): ${run.stderr}`);
  return path;
}
