/**
 * Architecture IR. An architecture is plain data (the JSON forms of
 * docs/architecture.md), and every model in the engine is an architecture plus
 * its parameters under canonical names, in canonical (state_dict) order.
 *
 * Canonical names are the official CLAFusion repository's:
 * - MLP: `fc1.weight`, `fc1.bias`, …
 * - VGG: `features.{p}.weight` (p advances 2 per conv and 1 per max-pool; 3
 *   per conv with BatchNorm, whose module is `features.{p+1}`), and
 *   `classifier.weight` (or `classifier.{k}.weight` with hidden FC layers);
 * - ResNet: `conv1`/`bn1`, `layerX.Y.conv1|bn1|conv2|bn2`,
 *   `layerX.Y.shortcut.0` (1×1 conv) / `shortcut.1` (BN), `linear`.
 * Other naming conventions are translated at the boundary (io/naming.ts).
 *
 * The "layers" of the method are the weight tensors (conv and linear), in
 * parameter order; `layerSpecs` describes each with its bias, BatchNorm and
 * place in the network (VGG group, ResNet stage/block), which is all the
 * alignment and fusion code needs to know about the family.
 */
import { FusionError } from './errors.ts';
import { type Tensor32, numel, sameShape, shapeString } from './tensor.ts';

export interface MlpArch {
  family: 'mlp';
  /** Input shape before flattening, e.g. [784] or [1, 28, 28]. */
  input: number[];
  /** Widths of the hidden layers, input side first. */
  hidden: number[];
  classes: number;
  bias: boolean;
}

export type VggEntry = number | 'M';

export interface VggArch {
  family: 'vgg';
  /** [H, W, C] as in docs/architecture.md. */
  input: [number, number, number];
  /** Conv output channels, `"M"` for a 2×2 max-pool with stride 2. */
  config: VggEntry[];
  /** Hidden fully connected widths before the classifier (official models: none). */
  fc?: number[];
  classes: number;
  bias: boolean;
  batchnorm?: boolean;
}

export interface ResNetArch {
  family: 'resnet';
  /** [H, W, C]. */
  input: [number, number, number];
  /** BasicBlocks per stage: [2,2,2,2] (ResNet18) or [3,4,6,3] (ResNet34). */
  blocks: number[];
  /** Channels per stage, e.g. [64,128,256,512]; the stem has widths[0]. */
  widths: number[];
  classes: number;
  bias: boolean;
  batchnorm?: boolean;
}

export type Arch = MlpArch | VggArch | ResNetArch;
export type Family = Arch['family'];

/** Parameters under canonical names, in canonical order. */
export type Params = Map<string, Tensor32>;

export interface Model {
  arch: Arch;
  params: Params;
}

/** One weight tensor (a "layer" of the method) and what belongs to it. */
export interface LayerSpec {
  /** Position among the weight tensors (parameter order), 0-based. */
  index: number;
  /** Canonical module name, e.g. `fc1`, `features.3`, `layer2.0.shortcut.0`. */
  module: string;
  kind: 'linear' | 'conv';
  /** [out, in] or [out, in, kh, kw] (OIHW). */
  shape: number[];
  weight: string;
  bias?: string;
  /** BatchNorm module prefix after this layer (`<prefix>.weight|bias|running_mean|running_var`). */
  bn?: string;
  /** Conv stride and padding. */
  stride: number;
  padding: number;
  /** VGG: 0-based max-pool group of a conv. */
  group?: number;
  /** ResNet: 0-based stage and block, and the layer's role in its block. */
  stage?: number;
  block?: number;
  role?: 'stem' | 'conv1' | 'conv2' | 'shortcut' | 'classifier' | 'hidden' | 'fc';
}

/** One parameter tensor the architecture declares. */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** Index of the weight tensor ("layer") this parameter belongs to. */
  layer: number;
  role: 'weight' | 'bias' | 'bn.weight' | 'bn.bias' | 'bn.running_mean' | 'bn.running_var';
}

export const BN_SUFFIXES = ['weight', 'bias', 'running_mean', 'running_var'] as const;

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

function invalid(field: string, message: string): FusionError {
  return new FusionError('INVALID_ARCH', message, { field });
}

function checkKnownFields(v: Record<string, unknown>, family: string, known: string[]): void {
  for (const key of Object.keys(v)) {
    if (!known.includes(key)) throw invalid(`arch.${key}`, `arch.${key} is not a field of a ${family} architecture`);
  }
}

function parseBool(v: Record<string, unknown>, key: string): boolean {
  const value = v[key] ?? false;
  if (typeof value !== 'boolean') throw invalid(`arch.${key}`, `arch.${key} must be true or false`);
  return value;
}

function parseClasses(v: Record<string, unknown>): number {
  if (!isPositiveInt(v.classes)) throw invalid('arch.classes', 'arch.classes must be a positive integer');
  return v.classes;
}

function parseImageInput(v: Record<string, unknown>): [number, number, number] {
  const input = v.input;
  if (!Array.isArray(input) || input.length !== 3 || !input.every(isPositiveInt)) {
    throw invalid('arch.input', 'arch.input must be [height, width, channels] of positive integers');
  }
  return [input[0], input[1], input[2]];
}

/**
 * Validates an unknown value as an architecture and returns it typed, or
 * throws INVALID_ARCH naming the offending field.
 */
export function parseArch(value: unknown): Arch {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('arch', 'architecture must be a JSON object');
  }
  const v = value as Record<string, unknown>;
  switch (v.family) {
    case 'mlp':
      return parseMlpArch(v);
    case 'vgg':
      return parseVggArch(v);
    case 'resnet':
      return parseResNetArch(v);
    default:
      throw invalid('arch.family', `arch.family must be "mlp", "vgg" or "resnet", got ${JSON.stringify(v.family)}`);
  }
}

function parseMlpArch(v: Record<string, unknown>): MlpArch {
  checkKnownFields(v, 'mlp', ['family', 'input', 'hidden', 'classes', 'bias']);
  const input = v.input;
  if (!Array.isArray(input) || input.length === 0 || !input.every(isPositiveInt)) {
    throw invalid('arch.input', 'arch.input must be a non-empty array of positive integers');
  }
  const hidden = v.hidden;
  if (!Array.isArray(hidden) || !hidden.every(isPositiveInt)) {
    throw invalid('arch.hidden', 'arch.hidden must be an array of positive integers');
  }
  return { family: 'mlp', input: [...input], hidden: [...hidden], classes: parseClasses(v), bias: parseBool(v, 'bias') };
}

function parseVggArch(v: Record<string, unknown>): VggArch {
  checkKnownFields(v, 'vgg', ['family', 'input', 'config', 'fc', 'classes', 'bias', 'batchnorm']);
  const input = parseImageInput(v);
  const config = v.config;
  if (!Array.isArray(config) || !config.every((e) => e === 'M' || isPositiveInt(e)) || !config.some((e) => e !== 'M')) {
    throw invalid('arch.config', 'arch.config must list conv widths (positive integers) and "M" max-pools, with at least one conv');
  }
  if (config[0] === 'M') throw invalid('arch.config', 'arch.config must start with a conv, not a max-pool');
  const pools = config.filter((e) => e === 'M').length;
  if (input[0] >> pools === 0 || input[1] >> pools === 0) {
    throw invalid('arch.config', `${pools} max-pools shrink a ${input[0]}×${input[1]} input to nothing`);
  }
  const fc = v.fc ?? [];
  if (!Array.isArray(fc) || !fc.every(isPositiveInt)) throw invalid('arch.fc', 'arch.fc must be an array of positive integers');
  const arch: VggArch = { family: 'vgg', input, config: [...config] as VggEntry[], classes: parseClasses(v), bias: parseBool(v, 'bias') };
  if (fc.length > 0) arch.fc = [...fc];
  if (parseBool(v, 'batchnorm')) arch.batchnorm = true;
  return arch;
}

function parseResNetArch(v: Record<string, unknown>): ResNetArch {
  checkKnownFields(v, 'resnet', ['family', 'input', 'blocks', 'widths', 'classes', 'bias', 'batchnorm']);
  const input = parseImageInput(v);
  const blocks = v.blocks;
  const widths = v.widths;
  if (!Array.isArray(blocks) || blocks.length === 0 || !blocks.every(isPositiveInt)) {
    throw invalid('arch.blocks', 'arch.blocks must be a non-empty array of positive integers (blocks per stage)');
  }
  if (!Array.isArray(widths) || widths.length !== blocks.length || !widths.every(isPositiveInt)) {
    throw invalid('arch.widths', `arch.widths must give one positive channel count per stage (${blocks.length})`);
  }
  const arch: ResNetArch = {
    family: 'resnet',
    input,
    blocks: [...blocks],
    widths: [...widths],
    classes: parseClasses(v),
    bias: parseBool(v, 'bias'),
  };
  if (parseBool(v, 'batchnorm')) arch.batchnorm = true;
  return arch;
}

/** Flattened input size (C·H·W for images). */
export function inputSize(arch: Arch): number {
  return numel(arch.input);
}

/** Input channels of an image architecture ([H, W, C] → C). */
export function inputChannels(arch: VggArch | ResNetArch): number {
  return arch.input[2];
}

export function mlpWeightName(layer: number): string {
  return `fc${layer + 1}.weight`;
}

export function mlpBiasName(layer: number): string {
  return `fc${layer + 1}.bias`;
}

function mlpLayerSpecs(arch: MlpArch): LayerSpec[] {
  const widths = [...arch.hidden, arch.classes];
  let fanIn = inputSize(arch);
  return widths.map((out, index) => {
    const module = `fc${index + 1}`;
    const spec: LayerSpec = {
      index,
      module,
      kind: 'linear',
      shape: [out, fanIn],
      weight: `${module}.weight`,
      stride: 1,
      padding: 0,
      role: index === widths.length - 1 ? 'classifier' : 'hidden',
    };
    if (arch.bias) spec.bias = `${module}.bias`;
    fanIn = out;
    return spec;
  });
}

/** Spatial size [H, W] after the VGG feature stack. */
export function vggOutputSize(arch: VggArch): [number, number] {
  const pools = arch.config.filter((e) => e === 'M').length;
  return [arch.input[0] >> pools, arch.input[1] >> pools];
}

function vggLayerSpecs(arch: VggArch): LayerSpec[] {
  const specs: LayerSpec[] = [];
  let p = 0;
  let group = 0;
  let channels = inputChannels(arch);
  for (const entry of arch.config) {
    if (entry === 'M') {
      p += 1;
      group += 1;
      continue;
    }
    const module = `features.${p}`;
    const spec: LayerSpec = {
      index: specs.length,
      module,
      kind: 'conv',
      shape: [entry, channels, 3, 3],
      weight: `${module}.weight`,
      stride: 1,
      padding: 1,
      group,
      role: 'hidden',
    };
    if (arch.bias) spec.bias = `${module}.bias`;
    if (arch.batchnorm) spec.bn = `features.${p + 1}`;
    specs.push(spec);
    channels = entry;
    p += arch.batchnorm ? 3 : 2;
  }
  const [h, w] = vggOutputSize(arch);
  let fanIn = channels * h * w;
  const fc = arch.fc ?? [];
  const widths = [...fc, arch.classes];
  widths.forEach((out, k) => {
    // One FC layer is `classifier`; with hidden FC layers nn.Sequential numbers
    // them Linear, ReLU, Linear, … as classifier.0, classifier.2, ….
    const module = fc.length === 0 ? 'classifier' : `classifier.${2 * k}`;
    const spec: LayerSpec = {
      index: specs.length,
      module,
      kind: 'linear',
      shape: [out, fanIn],
      weight: `${module}.weight`,
      stride: 1,
      padding: 0,
      role: k === widths.length - 1 ? 'classifier' : 'fc',
    };
    if (arch.bias) spec.bias = `${module}.bias`;
    specs.push(spec);
    fanIn = out;
  });
  return specs;
}

function resnetLayerSpecs(arch: ResNetArch): LayerSpec[] {
  const specs: LayerSpec[] = [];
  const push = (s: Omit<LayerSpec, 'index' | 'weight' | 'bias'>, bnName?: string) => {
    const spec: LayerSpec = { ...s, index: specs.length, weight: `${s.module}.weight` };
    if (arch.bias) spec.bias = `${s.module}.bias`;
    if (arch.batchnorm && bnName) spec.bn = bnName;
    specs.push(spec);
  };
  const stem = arch.widths[0];
  push({ module: 'conv1', kind: 'conv', shape: [stem, inputChannels(arch), 3, 3], stride: 1, padding: 1, role: 'stem' }, 'bn1');
  let channels = stem;
  arch.blocks.forEach((count, stage) => {
    const width = arch.widths[stage];
    for (let block = 0; block < count; block++) {
      const stride = block === 0 && stage > 0 ? 2 : 1;
      const prefix = `layer${stage + 1}.${block}`;
      push({ module: `${prefix}.conv1`, kind: 'conv', shape: [width, channels, 3, 3], stride, padding: 1, stage, block, role: 'conv1' }, `${prefix}.bn1`);
      push({ module: `${prefix}.conv2`, kind: 'conv', shape: [width, width, 3, 3], stride: 1, padding: 1, stage, block, role: 'conv2' }, `${prefix}.bn2`);
      if (stride !== 1 || channels !== width) {
        push(
          { module: `${prefix}.shortcut.0`, kind: 'conv', shape: [width, channels, 1, 1], stride, padding: 0, stage, block, role: 'shortcut' },
          `${prefix}.shortcut.1`,
        );
      }
      channels = width;
    }
  });
  push({ module: 'linear', kind: 'linear', shape: [arch.classes, channels], stride: 1, padding: 0, role: 'classifier' });
  return specs;
}

/** The weight tensors of an architecture, in parameter order, classifier last. */
export function layerSpecs(arch: Arch): LayerSpec[] {
  switch (arch.family) {
    case 'mlp':
      return mlpLayerSpecs(arch);
    case 'vgg':
      return vggLayerSpecs(arch);
    case 'resnet':
      return resnetLayerSpecs(arch);
  }
}

/** Number of weight tensors (hidden layers + classifier). */
export function layerCount(arch: Arch): number {
  return layerSpecs(arch).length;
}

/** Output width (neurons or channels) of every weight tensor, classifier last. */
export function layerWidths(arch: Arch): number[] {
  return layerSpecs(arch).map((s) => s.shape[0]);
}

/** The parameters an architecture declares, in state_dict order. */
export function paramSpecs(arch: Arch): ParamSpec[] {
  const specs: ParamSpec[] = [];
  for (const layer of layerSpecs(arch)) {
    specs.push({ name: layer.weight, shape: layer.shape, layer: layer.index, role: 'weight' });
    if (layer.bias) specs.push({ name: layer.bias, shape: [layer.shape[0]], layer: layer.index, role: 'bias' });
    if (layer.bn) {
      for (const suffix of BN_SUFFIXES) {
        specs.push({ name: `${layer.bn}.${suffix}`, shape: [layer.shape[0]], layer: layer.index, role: `bn.${suffix}` });
      }
    }
  }
  return specs;
}

/**
 * Checks that `params` holds exactly the tensors `arch` declares, with the
 * declared shapes and finite values. Errors name the tensor.
 */
export function validateParams(arch: Arch, params: Params): void {
  const specs = paramSpecs(arch);
  const declared = new Set(specs.map((s) => s.name));
  for (const spec of specs) {
    const t = params.get(spec.name);
    if (t === undefined) {
      throw new FusionError('MISSING_TENSOR', `tensor ${spec.name} is missing (expected shape ${shapeString(spec.shape)})`, {
        tensor: spec.name,
      });
    }
    if (!sameShape(t.shape, spec.shape)) {
      throw new FusionError(
        'SHAPE_MISMATCH',
        `tensor ${spec.name} has shape ${shapeString(t.shape)} but the architecture needs ${shapeString(spec.shape)}`,
        { tensor: spec.name, shape: t.shape, expected: spec.shape },
      );
    }
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) {
        throw new FusionError('NON_FINITE', `tensor ${spec.name} contains ${t.data[i]} at flat index ${i}`, {
          tensor: spec.name,
          index: i,
        });
      }
    }
    if (spec.role === 'bn.running_var') {
      for (let i = 0; i < t.data.length; i++) {
        if (t.data[i] < 0) {
          throw new FusionError('NON_FINITE', `tensor ${spec.name} has a negative variance at index ${i}`, { tensor: spec.name, index: i });
        }
      }
    }
  }
  for (const name of params.keys()) {
    if (!declared.has(name)) {
      throw new FusionError('UNEXPECTED_TENSOR', `tensor ${name} is not part of the architecture`, { tensor: name });
    }
  }
}

/** Builds a model, validating it; params are re-ordered into canonical order. */
export function makeModel(arch: Arch, params: Params): Model {
  validateParams(arch, params);
  const ordered: Params = new Map();
  for (const spec of paramSpecs(arch)) ordered.set(spec.name, params.get(spec.name)!);
  return { arch, params: ordered };
}

function param(model: Model, name: string): Tensor32 {
  const t = model.params.get(name);
  if (t === undefined) throw new FusionError('MISSING_TENSOR', `tensor ${name} is missing`, { tensor: name });
  return t;
}

/** The weight tensor of layer `layer` (0-based, classifier last). */
export function layerWeight(model: Model, layer: number): Tensor32 {
  return param(model, layerSpecs(model.arch)[layer].weight);
}

export function layerBias(model: Model, layer: number): Tensor32 | undefined {
  const name = layerSpecs(model.arch)[layer].bias;
  return name === undefined ? undefined : param(model, name);
}

export function archEquals(a: Arch, b: Arch): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A short human description, e.g. `mlp 784→[400, 200]→10` or `vgg 32x32x3 [64, M, 128]→10`. */
export function describeArch(arch: Arch): string {
  const extras = `${arch.bias ? ' bias' : ''}${arch.family !== 'mlp' && arch.batchnorm ? ' bn' : ''}`;
  switch (arch.family) {
    case 'mlp':
      return `mlp ${arch.input.join('x')}→[${arch.hidden.join(', ')}]→${arch.classes}${extras}`;
    case 'vgg':
      return `vgg ${arch.input.join('x')} [${arch.config.join(', ')}]${arch.fc?.length ? ` fc[${arch.fc.join(', ')}]` : ''}→${arch.classes}${extras}`;
    case 'resnet':
      return `resnet ${arch.input.join('x')} blocks [${arch.blocks.join(', ')}] widths [${arch.widths.join(', ')}]→${arch.classes}${extras}`;
  }
}
