/**
 * The CLI's model outputs as users run them: `fuse --out fused.pt --onnx
 * fused.onnx` writes the same fused model as `--out fused.safetensors`, in a
 * file real PyTorch loads (official layer names, strict) and an ONNX model
 * onnxruntime runs, both giving the safetensors model's logits; `train`
 * takes the same flags; misuse fails at once with a message naming the flag.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Arch } from '@clafusion/model-format/arch';
import { forward } from '../src/engine/nn/forward.ts';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { serializeModel } from '../src/io/model-file.ts';
import { readModelFile } from '../src/io/model-file.ts';
import { officialNaming } from '@clafusion/model-format/naming';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from '../src/io/onnx-writer.ts';
import type { FusionReport } from '../src/pipeline/report.ts';
import { initBackend } from '../src/runtime/backend.ts';
import { runCli } from './support/cli.ts';
import { evalImages, exportModel } from './support/export-models.ts';
import { maxAbsDiff, runTorchModel } from './support/pytorch.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-export-cli-'));
const path = (name: string) => join(dir, name);

const VGG_A: Arch = { family: 'vgg', input: [28, 28, 1], config: [8, 'M', 12, 12, 'M'], classes: 10, bias: true, batchnorm: true };
const VGG_B: Arch = { family: 'vgg', input: [28, 28, 1], config: [6, 'M', 10, 'M'], classes: 10, bias: true, batchnorm: true };
const COMMON = ['--calibration', 'fashion-mnist:train', '--samples', '100', '--normalize', 'fashion-mnist', '--quiet'];

async function onnxLogits(file: string, x: Tensor32): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(readFileSync(file));
  const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', x.data, x.shape) });
  return out[ONNX_OUTPUT_NAME].data as Float32Array;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  await initBackend();
  writeFileSync(path('a.safetensors'), serializeModel(exportModel(VGG_A, 1), officialNaming('vgg')));
  writeFileSync(path('b.safetensors'), serializeModel(exportModel(VGG_B, 2), officialNaming('vgg')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('clafusion model outputs', () => {
  it('fuse --out fused.pt --onnx fused.onnx: the safetensors output’s model, in PyTorch and ONNX', async () => {
    const models = ['--model', path('a.safetensors'), '--model', path('b.safetensors')];
    const st = await runCli(['fuse', ...models, ...COMMON, '--out', path('fused.safetensors')]);
    expect(st.stderr).toBe('');
    expect(st.code).toBe(0);
    const pt = await runCli(['fuse', ...models, ...COMMON, '--out', path('fused.pt'), '--onnx', path('fused.onnx'), '--report', path('report.json'), '--depth-aligned-out', path('aligned.pt')]);
    expect(pt.stderr).toBe('');
    expect(pt.code).toBe(0);
    expect(pt.stdout).toContain(path('fused.pt'));

    // Every model file follows its name: the depth-aligned model is a torch.save zip too.
    const aligned = readFileSync(path('aligned.pt'));
    expect([...aligned.subarray(0, 4)]).toEqual([0x50, 0x4b, 0x03, 0x04]);
    expect(aligned.includes(Buffer.from('archive/data.pkl'))).toBe(true);
    // The report hashes the file --out wrote.
    const report = JSON.parse(readFileSync(path('report.json'), 'utf8')) as FusionReport;
    expect(report.fused.sha256).toBe(sha256(readFileSync(path('fused.pt'))));

    const fused = (await readModelFile(path('fused.safetensors'))).model;
    const x = await evalImages(fused.arch, 64);
    const ours = forward(fused, x).logits;
    const torch = await runTorchModel(fused.arch, path('fused.pt'), x);
    expect(maxAbsDiff(torch.logits, ours)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(await onnxLogits(path('fused.onnx'), x), ours)).toBeLessThanOrEqual(1e-4);
  }, 300_000);

  it('--format pt writes a PyTorch file whatever its name; train takes --out M.pth and --onnx', async () => {
    const arch: Arch = { family: 'mlp', input: [1, 28, 28], hidden: [16], classes: 10, bias: true };
    const run = await runCli([
      'train', '--arch', JSON.stringify(arch), '--data', 'fashion-mnist:train', '--limit', '256', '--normalize', 'fashion-mnist',
      '--epochs', '1', '--quiet', '--out', path('mlp.pth'), '--onnx', path('mlp.onnx'),
    ]);
    expect(run.code, run.stderr).toBe(0);
    const again = await runCli([
      'train', '--arch', JSON.stringify(arch), '--data', 'fashion-mnist:train', '--limit', '256', '--normalize', 'fashion-mnist',
      '--epochs', '1', '--quiet', '--out', path('mlp.model'), '--format', 'pt',
    ]);
    expect(again.code, again.stderr).toBe(0);
    // Training is deterministic: the same weights, so the same bytes.
    expect(sha256(readFileSync(path('mlp.model')))).toBe(sha256(readFileSync(path('mlp.pth'))));
    const x = await evalImages(arch, 32);
    const torch = await runTorchModel(arch, path('mlp.pth'), x);
    expect(maxAbsDiff(await onnxLogits(path('mlp.onnx'), x), torch.logits)).toBeLessThanOrEqual(1e-4);
  }, 300_000);

  it('refuses an ONNX name for --out and an unknown --format before doing any work', async () => {
    const models = ['--model', path('a.safetensors'), '--model', path('b.safetensors')];
    const onnxOut = await runCli(['fuse', ...models, ...COMMON, '--out', path('x.onnx')]);
    expect(onnxOut.code).not.toBe(0);
    expect(onnxOut.stderr).toContain('for ONNX use --onnx');
    const badFormat = await runCli(['fuse', ...models, ...COMMON, '--out', path('x.bin'), '--format', 'onnx']);
    expect(badFormat.code).not.toBe(0);
    expect(badFormat.stderr).toContain('--format must be one of safetensors|pt, got "onnx"');
    expect(existsSync(path('x.onnx')) || existsSync(path('x.bin'))).toBe(false);
  }, 120_000);
});
