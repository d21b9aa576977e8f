import { describe, expect, it } from 'vitest';
import { type Arch, type Model, type ResNetArch, type VggArch, makeModel, paramSpecs } from '@clafusion/model-format/arch';
import { type Tensor32, tensor32 } from '@clafusion/model-format/tensor';
import { parseModelFile, serializeModel } from './model-file.ts';
import {
  type NamingConvention,
  OFFICIAL_RESNET_NAMING,
  OFFICIAL_VGG_NAMING,
  TORCHVISION_RESNET_NAMING,
  TORCHVISION_VGG_NAMING,
  fromCanonical,
  officialNaming,
  stateDictToWrite,
  toCanonical,
  userParamName,
} from '@clafusion/model-format/naming';
import { parseSafetensors, serializeSafetensors } from '@clafusion/model-format/safetensors';

/** Distinct deterministic values in every tensor; running_var stays positive. */
function tinyModel(arch: Arch): Model {
  const params = new Map<string, Tensor32>();
  paramSpecs(arch).forEach((spec, s) => {
    const t = tensor32(spec.shape);
    for (let i = 0; i < t.data.length; i++) t.data[i] = spec.role === 'bn.running_var' ? 1 + i / 10 : Math.sin(s * 7 + i);
    params.set(spec.name, t);
  });
  return makeModel(arch, params);
}

/** Names and shapes only (no values): enough for naming, inference and shape validation. */
function shapesOnly(names: Array<[string, number[]]>): Map<string, Tensor32> {
  return new Map(names.map(([name, shape]) => [name, { shape, data: new Float32Array(0) }]));
}

function reversed<K, V>(m: Map<K, V>): Map<K, V> {
  return new Map([...m].reverse());
}

function expectError(fn: () => unknown, code: string, ...fragments: string[]) {
  try {
    fn();
  } catch (err) {
    const e = err as { code: string; message: string };
    expect(e.code).toBe(code);
    for (const f of fragments) expect(e.message).toContain(f);
    return;
  }
  throw new Error('expected an error');
}

const VGG: VggArch = { family: 'vgg', input: [8, 8, 3], config: [4, 'M', 5, 5, 'M', 6, 'M'], classes: 3, bias: false };
const VGG_BN_FC: VggArch = { family: 'vgg', input: [16, 16, 2], config: [4, 'M', 'M', 5, 'M'], fc: [7, 6], classes: 3, bias: true, batchnorm: true };
const RESNET: ResNetArch = { family: 'resnet', input: [32, 32, 3], blocks: [2, 1, 2], widths: [4, 6, 6], classes: 5, bias: false };
const RESNET_BN: ResNetArch = { family: 'resnet', input: [32, 32, 1], blocks: [1, 2], widths: [3, 5], classes: 4, bias: true, batchnorm: true };

describe('VGG and ResNet naming round trips (architecture inferred)', () => {
  const cases: Array<[string, Arch, NamingConvention]> = [
    ['official VGG', VGG, OFFICIAL_VGG_NAMING],
    ['torchvision VGG', VGG, TORCHVISION_VGG_NAMING],
    ['official VGG, bias + BN + hidden FC + consecutive pools', VGG_BN_FC, OFFICIAL_VGG_NAMING],
    ['torchvision VGG, bias + BN + hidden FC + consecutive pools', VGG_BN_FC, TORCHVISION_VGG_NAMING],
    ['official ResNet', RESNET, OFFICIAL_RESNET_NAMING],
    ['torchvision ResNet', RESNET, TORCHVISION_RESNET_NAMING],
    ['official ResNet, bias + BN', RESNET_BN, OFFICIAL_RESNET_NAMING],
    ['torchvision ResNet, bias + BN', RESNET_BN, TORCHVISION_RESNET_NAMING],
  ];

  it.each(cases)('%s', (_name, arch, convention) => {
    const model = tinyModel(arch);
    const stateDict = fromCanonical(model, convention);
    const back = toCanonical(reversed(stateDict));
    expect(back.convention).toEqual(convention);
    expect(back.archSource).toBe('inferred');
    expect(back.model.arch).toEqual(arch);
    expect([...back.model.params.keys()]).toEqual([...model.params.keys()]);
    for (const [name, t] of model.params) expect(back.model.params.get(name)).toBe(t);
    // Every tensor name maps back to its canonical one.
    for (const spec of paramSpecs(arch)) expect(stateDict.has(userParamName(spec.name, convention))).toBe(true);
  });

  it('writes the official numbering and torchvision classifier.0/3/6 for a VGG with three FC layers', () => {
    const names = [...fromCanonical(tinyModel(VGG_BN_FC), TORCHVISION_VGG_NAMING).keys()];
    // conv(0) BN(1) ReLU(2) M(3) M(4) conv(5) BN(6) ReLU(7) M(8)
    expect(names.filter((n) => n.endsWith('.weight'))).toEqual([
      'features.0.weight',
      'features.1.weight',
      'features.5.weight',
      'features.6.weight',
      'classifier.0.weight',
      'classifier.3.weight',
      'classifier.6.weight',
    ]);
    expect([...fromCanonical(tinyModel(VGG_BN_FC), OFFICIAL_VGG_NAMING).keys()].filter((n) => n.startsWith('classifier'))).toEqual([
      'classifier.0.weight',
      'classifier.0.bias',
      'classifier.2.weight',
      'classifier.2.bias',
      'classifier.4.weight',
      'classifier.4.bias',
    ]);
    expect([...fromCanonical(tinyModel(VGG), TORCHVISION_VGG_NAMING).keys()].at(-1)).toBe('classifier.0.weight');
    expect([...fromCanonical(tinyModel(VGG), OFFICIAL_VGG_NAMING).keys()].at(-1)).toBe('classifier.weight');
  });

  it('writes torchvision ResNet names (downsample, fc) in state_dict order', () => {
    const names = [...fromCanonical(tinyModel(RESNET_BN), TORCHVISION_RESNET_NAMING).keys()];
    expect(names.slice(0, 7)).toEqual(['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'layer1.0.conv1.weight']);
    expect(names).toContain('layer2.0.downsample.0.weight');
    expect(names).toContain('layer2.0.downsample.1.running_var');
    expect(names.slice(-2)).toEqual(['fc.weight', 'fc.bias']);
    expect(names.some((n) => n.includes('shortcut') || n.startsWith('linear'))).toBe(false);
    expect(officialNaming('resnet')).toEqual(OFFICIAL_RESNET_NAMING);
  });
});

describe('architecture inference', () => {
  it('VGG11 from the official key numbering: pools from the index gaps, input from the classifier', () => {
    const convs: Array<[number, number, number]> = [
      [0, 64, 3],
      [3, 128, 64],
      [6, 256, 128],
      [8, 256, 256],
      [11, 512, 256],
      [13, 512, 512],
      [16, 512, 512],
      [18, 512, 512],
    ];
    const sd = shapesOnly([...convs.map(([p, o, i]): [string, number[]] => [`features.${p}.weight`, [o, i, 3, 3]]), ['classifier.weight', [10, 512]]]);
    const { model } = toCanonical(sd);
    expect(model.arch).toEqual({
      family: 'vgg',
      input: [32, 32, 3],
      config: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
      classes: 10,
      bias: false,
    });
  });

  it('torchvision VGG11-BN: a 7×7 final map (classifier.0 takes 512·49) means 224×224 inputs', () => {
    const convs: Array<[number, number, number]> = [
      [0, 64, 3],
      [4, 128, 64],
      [8, 256, 128],
      [11, 256, 256],
      [15, 512, 256],
      [18, 512, 512],
      [22, 512, 512],
      [25, 512, 512],
    ];
    const entries: Array<[string, number[]]> = [];
    for (const [p, o, i] of convs) {
      entries.push([`features.${p}.weight`, [o, i, 3, 3]], [`features.${p}.bias`, [o]]);
      for (const s of ['weight', 'bias', 'running_mean', 'running_var']) entries.push([`features.${p + 1}.${s}`, [o]]);
      entries.push([`features.${p + 1}.num_batches_tracked`, []]);
    }
    for (const [k, o, i] of [[0, 4096, 25088], [3, 4096, 4096], [6, 1000, 4096]]) {
      entries.push([`classifier.${k}.weight`, [o, i]], [`classifier.${k}.bias`, [o]]);
    }
    const { model, convention } = toCanonical(shapesOnly(entries));
    expect(convention).toEqual(TORCHVISION_VGG_NAMING);
    expect(model.arch).toEqual({
      family: 'vgg',
      input: [224, 224, 3],
      config: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
      fc: [4096, 4096],
      classes: 1000,
      bias: true,
      batchnorm: true,
    });
  });

  it('ResNet18 (official, _nobias_nobn): stages, blocks and widths from keys and shapes; 32×32 assumed', () => {
    const arch: ResNetArch = { family: 'resnet', input: [32, 32, 3], blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], classes: 10, bias: false };
    const sd = shapesOnly(paramSpecs(arch).map((s): [string, number[]] => [s.name, s.shape]));
    expect(sd.size).toBe(21);
    expect(toCanonical(sd).model.arch).toEqual(arch);
    // Metadata wins: a TinyImageNet model is the same network on 64×64 inputs.
    const tiny = { ...arch, input: [64, 64, 3], classes: 10 };
    const fromMeta = toCanonical(sd, { metadata: { arch: JSON.stringify(tiny) } });
    expect(fromMeta.archSource).toBe('metadata');
    expect(fromMeta.model.arch).toEqual(tiny);
  });
});

describe('num_batches_tracked', () => {
  it('is ignored on input and written as an int64 scalar 0 per BatchNorm on output', () => {
    const model = tinyModel(RESNET_BN);
    const bnCount = paramSpecs(RESNET_BN).filter((s) => s.role === 'bn.weight').length;
    const toWrite = stateDictToWrite(model, TORCHVISION_RESNET_NAMING);
    const counters = [...toWrite].filter(([name]) => name.endsWith('.num_batches_tracked'));
    expect(counters).toHaveLength(bnCount);
    expect(counters[0]).toEqual(['bn1.num_batches_tracked', { dtype: 'I64', shape: [], data: [0] }]);
    // Right after its BatchNorm's running_var, as in PyTorch's state_dict.
    const names = [...toWrite.keys()];
    expect(names[names.indexOf('layer2.0.downsample.1.running_var') + 1]).toBe('layer2.0.downsample.1.num_batches_tracked');
    expect([...stateDictToWrite(tinyModel(VGG), OFFICIAL_VGG_NAMING).keys()].some((n) => n.includes('num_batches'))).toBe(false);

    const bytes = serializeModel(model, TORCHVISION_RESNET_NAMING);
    const raw = parseSafetensors(bytes).tensors.get('layer1.0.bn2.num_batches_tracked')!;
    expect(raw.dtype).toBe('I64');
    expect(raw.shape).toEqual([]);
    const read = parseModelFile(bytes);
    expect(read.convention).toEqual(TORCHVISION_RESNET_NAMING);
    expect([...read.model.params.keys()]).toEqual([...model.params.keys()]);
    expect(serializeModel(read.model, read.convention, read.metadata)).toEqual(bytes);
  });

  it('a file without counters and without metadata reads the same', () => {
    const model = tinyModel(VGG_BN_FC);
    const bytes = serializeSafetensors(fromCanonical(model, TORCHVISION_VGG_NAMING));
    const read = parseModelFile(bytes);
    expect(read.archSource).toBe('inferred');
    expect(read.model.arch).toEqual(VGG_BN_FC);
  });
});

describe('errors name tensors in the user naming', () => {
  const resnet = fromCanonical(tinyModel(RESNET_BN), TORCHVISION_RESNET_NAMING);

  it('a shape that disagrees with the architecture', () => {
    const broken = new Map(resnet);
    broken.set('fc.weight', tensor32([4, 7]));
    expectError(() => toCanonical(broken), 'SHAPE_MISMATCH', 'fc.weight (linear.weight)', '[4, 7]');
    const badShortcut = new Map(resnet);
    badShortcut.set('layer2.0.downsample.0.weight', tensor32([5, 3, 3, 3]));
    expectError(() => toCanonical(badShortcut), 'SHAPE_MISMATCH', 'layer2.0.downsample.0.weight (layer2.0.shortcut.0.weight)');
  });

  it('missing and unexpected tensors', () => {
    const missing = new Map(resnet);
    missing.delete('layer2.0.downsample.1.running_mean');
    expectError(() => toCanonical(missing), 'MISSING_TENSOR', 'layer2.0.downsample.1.running_mean');
    const stray = new Map(resnet);
    stray.set('layer1.0.relu.weight', tensor32([3]));
    expectError(() => toCanonical(stray), 'UNEXPECTED_TENSOR', 'layer1.0.relu.weight', 'ResNet parameter');
    const vgg = fromCanonical(tinyModel(VGG), OFFICIAL_VGG_NAMING);
    const extra = new Map(vgg);
    extra.set('features.20.weight', tensor32([3, 6, 3, 3]));
    // With an explicit arch the extra conv is not part of it.
    expectError(() => toCanonical(extra, { arch: VGG }), 'UNEXPECTED_TENSOR', 'features.20.weight');
  });

  it('mixed conventions', () => {
    const mixed = new Map(resnet);
    const t = mixed.get('layer2.0.downsample.0.weight')!;
    mixed.delete('layer2.0.downsample.0.weight');
    mixed.set('layer2.0.shortcut.0.weight', t);
    expectError(() => toCanonical(mixed), 'UNEXPECTED_TENSOR', 'layer2.0.shortcut.0.weight', 'official', 'fc.weight');
    const vgg = fromCanonical(tinyModel(VGG_BN_FC), TORCHVISION_VGG_NAMING);
    const both = new Map(vgg);
    both.set('classifier.weight', tensor32([3, 6]));
    expectError(() => toCanonical(both), 'UNEXPECTED_TENSOR', 'classifier.weight', 'mixes');
    const odd = new Map([...vgg].map(([n, v]) => [n.replace('classifier.3.', 'classifier.4.').replace('classifier.6.', 'classifier.8.'), v]));
    expectError(() => toCanonical(odd), 'UNEXPECTED_TENSOR', 'classifier.4.weight', 'expected 2 (Linear, ReLU) or 3');
  });

  it('shapes that leave the VGG input size undetermined, or a feature stack not starting at features.0', () => {
    const sd = shapesOnly([
      ['features.0.weight', [4, 3, 3, 3]],
      ['classifier.weight', [2, 12]],
    ]);
    expectError(() => toCanonical(sd), 'SHAPE_MISMATCH', 'classifier.weight', 'not 4 channels times a square map', '__metadata__.arch');
    const late = shapesOnly([
      ['features.1.weight', [4, 3, 3, 3]],
      ['classifier.weight', [2, 4]],
    ]);
    expectError(() => toCanonical(late), 'UNEXPECTED_TENSOR', 'features.1.weight', 'features.0');
  });

  it('a model cannot be written in another family’s convention', () => {
    expectError(() => fromCanonical(tinyModel(VGG), OFFICIAL_RESNET_NAMING), 'INVALID_ARGUMENT', 'vgg model', 'resnet naming');
    expectError(() => fromCanonical(tinyModel(VGG), { family: 'vgg', style: 'keras' as 'official' }), 'INVALID_ARGUMENT', 'convention.style');
  });
});
