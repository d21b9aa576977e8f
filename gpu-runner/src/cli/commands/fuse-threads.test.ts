/**
 * `clafusion fuse --threads N`: the fused file is byte-identical whatever N
 * (activations recorded on worker threads, record-taps-pool.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResNetArch } from '@clafusion/model-format/arch';
import { initModel } from '../../engine/nn/init.ts';
import { Rng } from '../../engine/rng.ts';
import { writeDatasetSafetensors } from '../../io/datasets.ts';
import { writeModelFile } from '../../io/model-file.ts';
import { OFFICIAL_RESNET_NAMING } from '@clafusion/model-format/naming';
import { fuseCommand } from './fuse.ts';

const dir = mkdtempSync(join(tmpdir(), 'fuse-threads-'));
const path = (name: string) => join(dir, name);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function fuse(threads: number): Promise<Buffer> {
  const stdout = new PassThrough();
  const stderr = new PassThrough() as unknown as NodeJS.WriteStream;
  const out = path(`fused-${threads}.safetensors`);
  const argv = ['--model', path('a.safetensors'), '--model', path('b.safetensors'), '--calibration', path('cal.safetensors')];
  const code = await fuseCommand([...argv, '--out', out, '--threads', String(threads), '--quiet'], { stdout, stderr });
  expect(code).toBe(0);
  return readFileSync(out);
}

describe('fuse --threads', () => {
  it('writes the same bytes on 1 and 2 threads (ResNet pair of different depth, 13 samples split 6 + 7)', async () => {
    const arch = (blocks: number[]): ResNetArch => ({ family: 'resnet', input: [8, 8, 3], blocks, widths: [4, 8], classes: 3, bias: false, batchnorm: true });
    await writeModelFile(path('a.safetensors'), initModel(arch([2, 2]), 1), OFFICIAL_RESNET_NAMING);
    await writeModelFile(path('b.safetensors'), initModel(arch([1, 1]), 2), OFFICIAL_RESNET_NAMING);
    const rng = new Rng(4);
    const n = 13;
    await writeDatasetSafetensors(path('cal.safetensors'), { x: { shape: [n, 3, 8, 8], data: Float32Array.from({ length: n * 192 }, () => rng.normal()) } });
    const one = await fuse(1);
    expect((await fuse(2)).equals(one)).toBe(true);
  }, 300_000);
});
