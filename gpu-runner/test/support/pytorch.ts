/**
 * Test support: real PyTorch (Debian's python3-torch, under /usr/bin/python3)
 * loads a `.pt` file clafusion wrote into a model built with the official
 * repository's layer names (torch_models.py) and runs it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Arch } from '../../src/engine/arch.ts';
import type { Tensor32 } from '../../src/engine/tensor.ts';

/** Debian's python3 with python3-torch (a pyenv `python3` on PATH has no torch). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./torch_models.py', import.meta.url));

export interface TorchRun {
  /** [N, classes] logits from PyTorch. */
  logits: Float32Array;
  /** What torch.load returned: its type and the state dict's keys and dtypes, in order. */
  type: string;
  keys: string[];
  dtypes: Record<string, string>;
}

/** torch.load(ptPath) → load_state_dict(strict=True) → eval → logits on `x` (N samples, C,H,W order). */
export async function runTorchModel(arch: Arch, ptPath: string, x: Tensor32): Promise<TorchRun> {
  const dir = mkdtempSync(join(tmpdir(), 'clafusion-torch-'));
  try {
    const input = join(dir, 'x.f32');
    const output = join(dir, 'logits.f32');
    writeFileSync(input, new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength));
    const n = x.shape[0];
    const { stdout } = await promisify(execFile)(SYSTEM_PYTHON, [SCRIPT, JSON.stringify(arch), ptPath, input, String(n), output], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const bytes = readFileSync(output);
    const logits = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return { logits, ...(JSON.parse(stdout) as Omit<TorchRun, 'logits'>) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
