import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MlpArch, makeModel, paramSpecs } from '@clafusion/model-format/arch';
import { type Tensor32, tensor32 } from '@clafusion/model-format/tensor';
import { OFFICIAL_MLP_NAMING } from '@clafusion/model-format/naming';
import { readModelFile, serializeModel, writeModelFile } from './model-file.ts';
import { parseSafetensors, serializeSafetensors } from '@clafusion/model-format/safetensors';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clafusion-model-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const arch: MlpArch = { family: 'mlp', input: [1, 2, 4], hidden: [5, 3], classes: 2, bias: true };

function model() {
  const params = new Map<string, Tensor32>();
  paramSpecs(arch).forEach((spec, s) => {
    const t = tensor32(spec.shape);
    for (let i = 0; i < t.data.length; i++) t.data[i] = Math.sin(s * 31 + i);
    params.set(spec.name, t);
  });
  return makeModel(arch, params);
}

describe('model files', () => {
  it('write → read → write gives identical bytes, with arch in __metadata__', async () => {
    const path = join(dir, 'a.safetensors');
    const convention = { family: 'mlp' as const, prefix: 'layers.', offset: 1, stride: 2 };
    await writeModelFile(path, model(), convention, { trained_by: 'test', arch: 'stale' });
    const bytes = await readFile(path);
    const read = await readModelFile(path);
    expect(read.archSource).toBe('metadata');
    expect(read.model.arch).toEqual(arch);
    expect(read.convention).toEqual(convention);
    expect(read.metadata).toEqual({ arch: JSON.stringify(arch), trained_by: 'test' });
    expect(read.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    for (const [name, t] of model().params) expect(read.model.params.get(name)!.data).toEqual(t.data);
    expect(serializeModel(read.model, read.convention, read.metadata)).toEqual(new Uint8Array(bytes));
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reads F16 weights and infers the arch when the file has no metadata', async () => {
    const path = join(dir, 'half.safetensors');
    // fc1: [2, 3] ones (0x3c00); fc2: [1, 2] of -2 (0xc000); stored as raw F16 bytes.
    const f16 = (words: number[]) => {
      const b = new Uint8Array(words.length * 2);
      words.forEach((w, i) => new DataView(b.buffer).setUint16(2 * i, w, true));
      return b;
    };
    const header = JSON.stringify({
      'fc1.weight': { dtype: 'F16', shape: [2, 3], data_offsets: [0, 12] },
      'fc2.weight': { dtype: 'F16', shape: [1, 2], data_offsets: [12, 16] },
    });
    const data = new Uint8Array([...f16(Array(6).fill(0x3c00)), ...f16([0xc000, 0xc000])]);
    const head = new TextEncoder().encode(header);
    const file = new Uint8Array(8 + head.length + data.length);
    new DataView(file.buffer).setBigUint64(0, BigInt(head.length), true);
    file.set(head, 8);
    file.set(data, 8 + head.length);
    await writeFile(path, file);
    const read = await readModelFile(path);
    expect(read.archSource).toBe('inferred');
    expect(read.model.arch).toEqual({ family: 'mlp', input: [3], hidden: [2], classes: 1, bias: false });
    expect(read.convention).toEqual(OFFICIAL_MLP_NAMING);
    expect(Array.from(read.model.params.get('fc2.weight')!.data)).toEqual([-2, -2]);
    const withArch = await readModelFile(path, { arch: { family: 'mlp', input: [1, 1, 3], hidden: [2], classes: 1, bias: false } });
    expect(withArch.archSource).toBe('argument');
    expect(withArch.model.arch.input).toEqual([1, 1, 3]);
  });

  it('refuses integer weights and reports NaN weights by the file’s tensor name', async () => {
    const ints = join(dir, 'ints.safetensors');
    await writeFile(ints, serializeSafetensors([['0.weight', { dtype: 'I32', shape: [2, 2], data: [1, 2, 3, 4] }]]));
    await expect(readModelFile(ints)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining('tensor 0.weight') });
    const nan = join(dir, 'nan.safetensors');
    await writeFile(nan, serializeSafetensors([['net.0.weight', { shape: [2, 2], data: [1, Infinity, 3, 4] }]]));
    await expect(readModelFile(nan)).rejects.toMatchObject({
      code: 'NON_FINITE',
      message: expect.stringContaining('net.0.weight (fc1.weight) contains Infinity'),
    });
  });

  it('a malformed file is MALFORMED_FILE', async () => {
    const path = join(dir, 'short.safetensors');
    await writeFile(path, new Uint8Array([1, 2, 3]));
    await expect(readModelFile(path)).rejects.toMatchObject({ code: 'MALFORMED_FILE' });
  });

  it('a failed write leaves the previous file intact and no temp file behind', async () => {
    const path = join(dir, 'keep.safetensors');
    await writeModelFile(path, model(), OFFICIAL_MLP_NAMING);
    const before = await readFile(path);
    const broken = model();
    broken.params.get('fc1.weight')!.data[0] = Number.NaN;
    await expect(writeModelFile(path, broken, OFFICIAL_MLP_NAMING)).rejects.toMatchObject({ code: 'NON_FINITE' });
    expect(await readFile(path)).toEqual(before);
    // A rename that fails (the destination is a non-empty folder) cleans its temp file up.
    const blocked = join(dir, 'blocked');
    await mkdir(join(blocked, 'inner'), { recursive: true });
    await expect(writeModelFile(blocked, model(), OFFICIAL_MLP_NAMING)).rejects.toThrow();
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(parseSafetensors(before).metadata.arch).toBe(JSON.stringify(arch));
  });
});
