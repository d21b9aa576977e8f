/**
 * PyTorch checkpoints written by real PyTorch (Debian's python3-torch, run
 * as /usr/bin/python3): MLP, VGG and ResNet models in the official
 * repository's names are written by our serializer, loaded into torch
 * modules by write-checkpoints.fixture.py and saved with torch.save in every
 * form people keep them (zip and legacy format, pickle protocol 4, a training checkpoint dict,
 * DataParallel, float16/bfloat16, non-contiguous tensors). The reader must
 * give back exactly the tensors torch holds, the API's header reader the
 * same architecture, and `clafusion fuse` on .pt inputs the very bytes it
 * writes for the same models as safetensors.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Arch, Model, ResNetArch, VggArch } from '@clafusion/model-format/arch';
import { parseModelFile, serializeModel } from '../src/io/model-file.ts';
import { type NamingConvention, TORCHVISION_VGG_NAMING, officialNaming } from '@clafusion/model-format/naming';
import { readPytorchHeader, runRangesSync } from '@clafusion/model-format/pytorch/checkpoint';
import { parseSafetensors, serializeSafetensors } from '@clafusion/model-format/safetensors';
import { randomCnn } from './support/reference-cnn.ts';
import { randomMlp } from './support/reference-mlp.ts';
import { runCli } from './support/cli.ts';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./support/write-checkpoints.fixture.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'clafusion-torch-'));
const path = (name: string) => join(dir, name);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MLP_A = { family: 'mlp', input: [6], hidden: [8, 7, 5], classes: 4, bias: true } as const;
const MLP_B = { family: 'mlp', input: [6], hidden: [6, 5], classes: 4, bias: true } as const;
const VGG_A: VggArch = { family: 'vgg', input: [8, 8, 3], config: [4, 'M', 6, 6, 'M'], classes: 5, bias: true, batchnorm: true };
const VGG_B: VggArch = { family: 'vgg', input: [8, 8, 3], config: [5, 'M', 6, 'M'], classes: 5, bias: true, batchnorm: true };
const RES_A: ResNetArch = { family: 'resnet', input: [32, 32, 2], blocks: [2, 1, 1, 1], widths: [4, 4, 6, 6], classes: 3, bias: false, batchnorm: true };
const RES_B: ResNetArch = { family: 'resnet', input: [32, 32, 2], blocks: [1, 1, 1, 1], widths: [4, 5, 6, 6], classes: 3, bias: false, batchnorm: true };

const MODELS: Record<string, Model> = {
  'mlp-a': randomMlp({ ...MLP_A, hidden: [...MLP_A.hidden], input: [...MLP_A.input] }, 11),
  'mlp-b': randomMlp({ ...MLP_B, hidden: [...MLP_B.hidden], input: [...MLP_B.input] }, 12),
  'vgg-a': randomCnn(VGG_A, 13),
  'vgg-b': randomCnn(VGG_B, 14),
  'res-a': randomCnn(RES_A, 15),
  'res-b': randomCnn(RES_B, 16),
};
/** Models saved in other naming conventions the reader infers: torchvision's VGG, a sequential MLP (`layers.0`, `layers.2`, …). */
const NAMING: Record<string, NamingConvention> = {
  'vgg-tv': TORCHVISION_VGG_NAMING,
  'mlp-seq': { family: 'mlp', prefix: 'layers.', offset: 0, stride: 2 },
};
const { batchnorm: _, ...VGG_PLAIN } = VGG_A;
MODELS['vgg-tv'] = randomCnn(VGG_PLAIN, 17);
MODELS['mlp-seq'] = randomMlp({ ...MLP_B, hidden: [...MLP_B.hidden], input: [...MLP_B.input] }, 18);
const VARIANTS = ['zip.pt', 'legacy.pt', 'p4.pt', 'ckpt.pth', 'dp.pt', 'strided.pt'] as const;

beforeAll(() => {
  for (const [name, model] of Object.entries(MODELS)) {
    writeFileSync(path(`${name}.safetensors`), serializeModel(model, NAMING[name] ?? officialNaming(model.arch.family)));
  }
  execFileSync(PYTHON, [SCRIPT, dir, ...Object.keys(MODELS)], { stdio: 'pipe' });
}, 120_000);

function expectSameParams(actual: Model, expected: Model, label: string): void {
  expect(actual.arch, label).toEqual(expected.arch);
  expect([...actual.params.keys()], label).toEqual([...expected.params.keys()]);
  for (const [name, t] of expected.params) {
    const got = actual.params.get(name)!;
    expect(got.shape, `${label} ${name}`).toEqual(t.shape);
    // Bitwise: a float32 round trip through torch must not change a single value.
    expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${label} ${name}`).toBe(true);
  }
}

describe('PyTorch checkpoints written by torch.save', () => {
  for (const name of Object.keys(MODELS)) {
    it(`${name}: every form reads back as the model torch saved, in its naming and with the inferred architecture`, () => {
      const original = parseModelFile(readFileSync(path(`${name}.safetensors`)));
      expectSameParams(original.model, MODELS[name], `${name}.safetensors`);
      for (const variant of VARIANTS) {
        const bytes = readFileSync(path(`${name}.${variant}`));
        const file = parseModelFile(bytes);
        expectSameParams(file.model, MODELS[name], variant);
        expect(file.archSource).toBe('inferred');
        expect(file.convention).toEqual(original.convention);
        // The API's header reader agrees on names, dtypes and shapes without reading a tensor.
        const header = runRangesSync(readPytorchHeader(bytes.length), bytes);
        expect(header.format).toBe(variant === 'legacy.pt' ? 'pytorch-legacy' : 'pytorch-zip');
        expect(header.tensors.map((t) => t.name).sort()).toEqual([...parseSafetensors(readFileSync(path(`${name}.safetensors`))).tensors.keys()].sort());
        for (const t of header.tensors) {
          if (t.name.endsWith('num_batches_tracked')) expect(t.dtype).toBe('I64');
          else expect(t.dtype).toBe('F32');
        }
      }
    });

    it(`${name}: float16 and bfloat16 tensors read as the float32 values torch converts them to`, () => {
      for (const half of ['f16', 'bf16']) {
        const file = parseModelFile(readFileSync(path(`${name}.${half}.pt`)));
        expect(file.model.params.size).toBe(MODELS[name].params.size);
        const expected = parseModelFile(readFileSync(path(`${name}.${half}.expected`)));
        expectSameParams(file.model, expected.model, `${name}.${half}.pt`);
        const bytes = readFileSync(path(`${name}.${half}.pt`));
        const header = runRangesSync(readPytorchHeader(bytes.length), bytes);
        expect(header.tensors.find((t) => t.name.endsWith('weight'))!.dtype).toBe(half === 'f16' ? 'F16' : 'BF16');
      }
    });
  }

  it('the format is told from the bytes: a safetensors file named .pt and a checkpoint named .safetensors both read', () => {
    writeFileSync(path('swapped.pt'), readFileSync(path('mlp-a.safetensors')));
    writeFileSync(path('swapped.safetensors'), readFileSync(path('mlp-a.zip.pt')));
    expectSameParams(parseModelFile(readFileSync(path('swapped.pt'))).model, MODELS['mlp-a'], 'swapped.pt');
    expectSameParams(parseModelFile(readFileSync(path('swapped.safetensors'))).model, MODELS['mlp-a'], 'swapped.safetensors');
  });
});

describe('clafusion fuse on .pt inputs', () => {
  const calibration = (arch: Arch, file: string, n = 24) => {
    const shape = arch.family === 'mlp' ? [n, ...arch.input] : [n, arch.input[2], arch.input[0], arch.input[1]];
    const count = shape.reduce((a, b) => a * b, 1);
    writeFileSync(path(file), serializeSafetensors([['x', { shape, data: Float32Array.from({ length: count }, (_, i) => Math.sin(1.7 * i) + 0.3 * Math.cos(i)) }]]));
    return path(file);
  };

  async function fuse(a: string, b: string, cal: string, out: string): Promise<Buffer> {
    const run = await runCli(['fuse', '--model', path(a), '--model', path(b), '--calibration', cal, '--out', path(out), '--quiet']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return readFileSync(path(out));
  }

  it('eval reads a checkpoint as it reads the safetensors: the same accuracy', async () => {
    const arch = MLP_A as unknown as Arch;
    const n = 30;
    const x = Float32Array.from({ length: n * 6 }, (_, i) => Math.sin(0.9 * i));
    writeFileSync(path('labelled.safetensors'), serializeSafetensors([
      ['x', { shape: [n, ...(arch.input as number[])], data: x }],
      ['y', { dtype: 'I64', shape: [n], data: Array.from({ length: n }, (_, i) => i % 4) }],
    ]));
    const run = await runCli(['eval', '--model', path('mlp-a.ckpt.pth'), '--model', path('mlp-a.safetensors'), '--data', path('labelled.safetensors'), '--json']);
    expect(run.code).toBe(0);
    const [fromTorch, fromSafetensors] = (JSON.parse(run.stdout) as { models: { accuracy: number }[] }).models;
    expect(fromTorch.accuracy).toBe(fromSafetensors.accuracy);
  });

  const pairs: [string, string, string, Arch][] = [
    ['mlp', 'zip.pt', 'legacy.pt', MLP_A as unknown as Arch],
    ['vgg', 'ckpt.pth', 'dp.pt', VGG_A],
    ['res', 'strided.pt', 'zip.pt', RES_A],
  ];
  for (const [family, formA, formB, arch] of pairs) {
    it(`${family}: fusing ${formA} + ${formB} writes the same bytes as fusing the safetensors`, async () => {
      const cal = calibration(arch, `${family}-cal.safetensors`);
      const fromSafetensors = await fuse(`${family}-a.safetensors`, `${family}-b.safetensors`, cal, `${family}-fused-st.safetensors`);
      const fromTorch = await fuse(`${family}-a.${formA}`, `${family}-b.${formB}`, cal, `${family}-fused-pt.safetensors`);
      expect(fromTorch.equals(fromSafetensors)).toBe(true);
    });
  }
});
