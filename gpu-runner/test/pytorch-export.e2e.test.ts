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
import { forward } from '../src/engine/nn/forward.ts';
import { serializeModel } from '../src/io/model-file.ts';
import { type NamingConvention, officialNaming, stateDictToWrite } from '../src/io/naming.ts';
import { serializeModelPytorch } from '../src/io/pytorch-writer.ts';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { initBackend } from '../src/runtime/backend.ts';
import { EXPORT_ARCHS, evalImages, exportModel } from './support/export-models.ts';
import { maxAbsDiff, runTorchModel } from './support/pytorch.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-pt-export-'));

beforeAll(async () => {
  await initBackend();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('PyTorch export', () => {
  it.each(EXPORT_ARCHS)('%s: torch.load + load_state_dict(strict=True) give our logits', async (label, arch) => {
    const model = exportModel(arch, 7);
    const convention = officialNaming(arch.family);
    const path = join(dir, `${label.replace(/\W+/g, '-')}.pt`);
    writeFileSync(path, serializeModelPytorch(model, convention));
    const x = await evalImages(arch, 64);
    const torch = await runTorchModel(arch, path, x);

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

  it('writes the names of the input files’ convention, as the safetensors output does', async () => {
    const arch = EXPORT_ARCHS[0][1];
    const model = exportModel(arch, 3);
    const sequential: NamingConvention = { family: 'mlp', prefix: 'layers.', offset: 1, stride: 2 };
    const path = join(dir, 'sequential.pt');
    writeFileSync(path, serializeModelPytorch(model, sequential));
    const names = [...stateDictToWrite(model, sequential).keys()];
    expect(names).toEqual(['layers.1.weight', 'layers.1.bias', 'layers.3.weight', 'layers.3.bias', 'layers.5.weight', 'layers.5.bias']);
    // An official-named model refuses these names, which shows they are the file's own.
    await expect(runTorchModel(arch, path, await evalImages(arch, 2))).rejects.toThrow(/Missing key\(s\) in state_dict: "fc1.weight"/);
  });

  it('is a pure function of the model', () => {
    const [, arch] = EXPORT_ARCHS[5];
    const a = serializeModelPytorch(exportModel(arch, 1), officialNaming(arch.family));
    const b = serializeModelPytorch(exportModel(arch, 1), officialNaming(arch.family));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });
});
