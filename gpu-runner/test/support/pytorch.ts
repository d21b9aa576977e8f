/**
 * Test support: real PyTorch (Debian's python3-torch, under /usr/bin/python3)
 * loads `.pt` files clafusion wrote into models built with the official
 * repository's layer names (torch_models.py) and runs them. Several models
 * go through one python process, since importing torch takes seconds.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Arch } from '@clafusion/model-format/arch';
import type { Tensor32 } from '@clafusion/model-format/tensor';

/** Debian's python3 with python3-torch (a pyenv `python3` on PATH has no torch). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./torch_models.py', import.meta.url));

export interface TorchJob {
  arch: Arch;
  /** The .pt file. */
  path: string;
  /** N samples, C,H,W order per image. */
  x: Tensor32;
}

export interface TorchRun {
  /** [N, classes] logits from PyTorch. */
  logits: Float32Array;
  /** What torch.load returned: its type and the state dict's keys and dtypes, in order. */
  type: string;
  keys: string[];
  dtypes: Record<string, string>;
}

/**
 * For each job: torch.load(path) → load_state_dict(strict=True) → eval →
 * logits on x. A job whose state dict load_state_dict refuses gives an
 * Error with PyTorch's message in its place.
 */
export async function runTorchModels(jobs: readonly TorchJob[]): Promise<(TorchRun | Error)[]> {
  const dir = mkdtempSync(join(tmpdir(), 'clafusion-torch-'));
  try {
    const specs = jobs.map((job, i) => {
      const input = join(dir, `x${i}.f32`);
      writeFileSync(input, new Uint8Array(job.x.data.buffer, job.x.data.byteOffset, job.x.data.byteLength));
      return { arch: job.arch, model: job.path, input, n: job.x.shape[0], output: join(dir, `logits${i}.f32`) };
    });
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(specs));
    const { stdout } = await promisify(execFile)(SYSTEM_PYTHON, [SCRIPT, join(dir, 'jobs.json')], { maxBuffer: 64 * 1024 * 1024 });
    const results = JSON.parse(stdout) as (Omit<TorchRun, 'logits'> | { error: string })[];
    return results.map((r, i) => {
      if ('error' in r) return new Error(r.error);
      const bytes = readFileSync(specs[i].output);
      return { logits: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), ...r };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One model; throws when load_state_dict refuses the file. */
export async function runTorchModel(arch: Arch, path: string, x: Tensor32): Promise<TorchRun> {
  const [result] = await runTorchModels([{ arch, path, x }]);
  if (result instanceof Error) throw result;
  return result;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
