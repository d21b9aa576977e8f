/**
 * Test support for the export tests (.pt and .onnx): small models of every
 * family on Fashion-MNIST-shaped input (1×28×28), with BatchNorm statistics
 * moved off their initial values so that BN is really exercised, and a few
 * real test images to run them on.
 */
import { type Arch, type Model, paramSpecs } from '@clafusion/model-format/arch';
import { initModel } from '../../src/engine/nn/init.ts';
import { Rng } from '../../src/engine/rng.ts';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { loadDataset } from '../../src/io/datasets.ts';

export const EXPORT_ARCHS: Array<[string, Arch]> = [
  ['MLP with bias', { family: 'mlp', input: [1, 28, 28], hidden: [40, 20], classes: 10, bias: true }],
  ['MLP without bias, flat input', { family: 'mlp', input: [784], hidden: [30], classes: 10, bias: false }],
  ['VGG', { family: 'vgg', input: [28, 28, 1], config: [8, 'M', 12, 'M'], classes: 10, bias: false }],
  ['VGG with bias, BN and hidden FC layers, odd map sizes', { family: 'vgg', input: [28, 28, 1], config: [6, 'M', 8, 'M', 8, 'M'], fc: [24, 16], classes: 10, bias: true, batchnorm: true }],
  ['ResNet', { family: 'resnet', input: [28, 28, 1], blocks: [1, 1, 1], widths: [4, 4, 8], classes: 10, bias: false }],
  ['ResNet with bias and BN', { family: 'resnet', input: [28, 28, 1], blocks: [2, 1], widths: [4, 8], classes: 10, bias: true, batchnorm: true }],
];

/** Initialised weights, BatchNorm scales, shifts and running statistics randomised. */
export function exportModel(arch: Arch, seed: number): Model {
  const model = initModel(arch, seed);
  const rng = new Rng(seed + 1000);
  for (const spec of paramSpecs(arch)) {
    const t = model.params.get(spec.name)!;
    if (spec.role === 'bn.weight') rng.fillUniform(t.data, 0.5, 1.5);
    if (spec.role === 'bn.bias' || spec.role === 'bn.running_mean') for (let i = 0; i < t.data.length; i++) t.data[i] = 0.3 * rng.normal();
    if (spec.role === 'bn.running_var') rng.fillUniform(t.data, 0.2, 2);
  }
  return model;
}

/** `n` Fashion-MNIST test images, normalised, in the architecture's input shape. */
export async function evalImages(arch: Arch, n: number): Promise<Tensor32> {
  const { x } = await loadDataset('fashion-mnist:test', { limit: n, normalize: 'fashion-mnist' });
  const perSample = arch.family === 'mlp' ? arch.input : [arch.input[2], arch.input[0], arch.input[1]];
  return { shape: [x.shape[0], ...perSample], data: x.data };
}
