/**
 * The `.pt` files clafusion writes, checked by real PyTorch (Debian's
 * python3-torch): `torch.load` gives an OrderedDict with the safetensors
 * output's names, dtypes and order, `load_state_dict(strict=True)` into a
 * model built with the official repository's layer names accepts it, and
 * the model in eval mode gives our forward pass's logits on Fashion-MNIST
 * test images.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '@clafusion/model-format/arch';
import { forward } from '../src/engine/nn/forward.ts';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { serializeModel } from '../src/io/model-file.ts';
import { type NamingConvention, officialNaming, stateDictToWrite } from '@clafusion/model-format/naming';
import { serializeModelPytorch } from '../src/io/pytorch-writer.ts';
import { parseSafetensors } from '@clafusion/model-format/safetensors';
import { initBackend } from '../src/runtime/backend.ts';
import { EXPORT_ARCHS, evalImages, exportModel } from './support/export-models.ts';
import { type TorchRun, maxAbsDiff, runTorchModels } from './support/pytorch.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-pt-export-'));
const SEQUENTIAL: NamingConvention = { family: 'mlp', prefix: 'layers.', offset: 1, stride: 2 };

interface Case {
  model: Model;
  x: Tensor32;
  convention: NamingConvention;
  torch: TorchRun | Error;
}
const cases = new Map<string, Case>();

// Every file goes through one python process (importing torch takes seconds).
beforeAll(async () => {
  await initBackend();
  const prepared: Omit<Case, 'torch'>[] = [];
  const labels: string[] = [];
  for (const [label, arch] of EXPORT_ARCHS) {
    prepared.push({ model: exportModel(arch, 7), x: await evalImages(arch, 64), convention: officialNaming(arch.family) });
    labels.push(label);
  }
  // The first MLP again, in an nn.Sequential's names.
  prepared.push({ model: exportModel(EXPORT_ARCHS[0][1], 3), x: await evalImages(EXPORT_ARCHS[0][1], 2), convention: SEQUENTIAL });
  labels.push('sequential');
  const jobs = prepared.map((c, i) => {
    const path = join(dir, `${i}.pt`);
    writeFileSync(path, serializeModelPytorch(c.model, c.convention));
    return { arch: c.model.arch, path, x: c.x };
  });
  const results = await runTorchModels(jobs);
  prepared.forEach((c, i) => cases.set(labels[i], { ...c, torch: results[i] }));
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('PyTorch export', () => {
  it.each(EXPORT_ARCHS)('%s: torch.load + load_state_dict(strict=True) give our logits', (label) => {
    const { model, x, convention, torch } = cases.get(label)!;
    if (torch instanceof Error) throw torch;
    expect(torch.type).toBe('collections.OrderedDict');
    // Same names in the same order as the safetensors output.
    const safetensorsNames = [...parseSafetensors(serializeModel(model, convention)).tensors.keys()];
    expect(torch.keys).toEqual(safetensorsNames);
    for (const name of torch.keys) {
      expect(torch.dtypes[name], name).toBe(name.endsWith('num_batches_tracked') ? 'torch.int64' : 'torch.float32');
    }
    const ours = forward(model, x).logits;
    expect(maxAbsDiff(torch.logits, ours)).toBeLessThanOrEqual(1e-4);
  });

  it('writes the names of the input files’ convention, as the safetensors output does', () => {
    const { model, torch } = cases.get('sequential')!;
    expect([...stateDictToWrite(model, SEQUENTIAL).keys()]).toEqual([
      'layers.1.weight', 'layers.1.bias', 'layers.3.weight', 'layers.3.bias', 'layers.5.weight', 'layers.5.bias',
    ]);
    // An official-named model refuses these names, which shows they are the file's own.
    expect(torch).toBeInstanceOf(Error);
    expect((torch as Error).message).toMatch(/Missing key\(s\) in state_dict: "fc1.weight"/);
    expect((torch as Error).message).toMatch(/Unexpected key\(s\) in state_dict: "layers.1.weight"/);
  });

  it('is a pure function of the model', () => {
    const [, arch] = EXPORT_ARCHS[5];
    const a = serializeModelPytorch(exportModel(arch, 1), officialNaming(arch.family));
    const b = serializeModelPytorch(exportModel(arch, 1), officialNaming(arch.family));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });
});
