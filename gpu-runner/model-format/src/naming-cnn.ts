/**
 * Naming conventions of VGG and ResNet state dicts, and architecture
 * inference from their names and shapes.
 *
 * Each convention is a pure rename to and from the canonical names
 * (engine/arch.ts), so reading and writing are exact inverses:
 *
 * VGG — `features.{p}` is numbered the same way by the official repository
 * and torchvision (make_layers: Conv, [BatchNorm], ReLU per conv, MaxPool per
 * "M"), so only the classifier differs:
 *  - official: one Linear `classifier`, or `classifier.{2k}` with hidden FC
 *    layers (Linear, ReLU, …) — the canonical names;
 *  - torchvision: `classifier.{3k}` (Linear, ReLU, Dropout, …: 0, 3, 6).
 *
 * ResNet —
 *  - official: `conv1`, `bn1`, `layerX.Y.conv1|bn1|conv2|bn2`,
 *    `layerX.Y.shortcut.0|1`, `linear` — the canonical names;
 *  - torchvision: the same but `layerX.Y.downsample.0|1` and `fc`.
 *
 * `*.num_batches_tracked` (BatchNorm's int64 step counter) carries nothing
 * the engine uses and is dropped on input.
 */
import type { ResNetArch, VggArch, VggEntry } from './arch.ts';
import { FusionError } from './errors.ts';
import { type Tensor32, shapeString } from './tensor.ts';

export type CnnStyle = 'official' | 'torchvision';

export interface VggNaming {
  family: 'vgg';
  style: CnnStyle;
}

export interface ResNetNaming {
  family: 'resnet';
  style: CnnStyle;
}

/** The suffix of BatchNorm's step counter; see isIgnoredTensor. */
export const NUM_BATCHES_TRACKED = 'num_batches_tracked';

/** Tensors a state dict may hold that the engine ignores on input (BatchNorm's step counter). */
export function isIgnoredTensor(name: string): boolean {
  return name === NUM_BATCHES_TRACKED || name.endsWith(`.${NUM_BATCHES_TRACKED}`);
}

/**
 * Input size assumed when a ResNet's architecture is inferred: global average
 * pooling hides the spatial size from the weights, and 32×32 is CIFAR's (the
 * paper's ResNet experiments). TinyImageNet models need `__metadata__.arch`
 * or an explicit arch with 64×64.
 */
export const INFERRED_RESNET_SIZE = 32;

function unexpected(name: string, message: string): FusionError {
  return new FusionError('UNEXPECTED_TENSOR', `tensor ${name} ${message}`, { tensor: name });
}

function shapeError(name: string, shape: number[], message: string): FusionError {
  return new FusionError('SHAPE_MISMATCH', `tensor ${name} has shape ${shapeString(shape)}; ${message}`, { tensor: name, shape });
}

/** A detected convention and the canonical name of every (non-ignored) tensor. */
export interface CnnDetection<N> {
  convention: N;
  /** user name → canonical name. */
  canonical: Map<string, string>;
}

// ------------------------------------------------------------------ VGG

const VGG_FEATURE = /^features\.(0|[1-9]\d*)\.(weight|bias|running_mean|running_var)$/;
const VGG_CLASSIFIER = /^classifier(?:\.(0|[1-9]\d*))?\.(weight|bias)$/;

/** True when the names look like a VGG state dict (some `features.<i>.` tensor). */
export function looksLikeVgg(names: readonly string[]): boolean {
  return names.some((n) => /^features\.\d+\./.test(n));
}

export function detectVggNaming(names: readonly string[]): CnnDetection<VggNaming> {
  const classifier: Array<{ name: string; index: number | undefined; role: string }> = [];
  for (const name of names) {
    if (VGG_FEATURE.test(name)) continue;
    const m = VGG_CLASSIFIER.exec(name);
    if (m === null) {
      throw unexpected(name, 'does not look like a VGG parameter (expected features.<i>.weight|bias|running_mean|running_var or classifier[.<i>].weight|bias)');
    }
    classifier.push({ name, index: m[1] === undefined ? undefined : Number(m[1]), role: m[2] });
  }
  const indexed = classifier.filter((c) => c.index !== undefined);
  const plain = classifier.filter((c) => c.index === undefined);
  if (indexed.length > 0 && plain.length > 0) {
    throw unexpected(plain[0].name, `mixes a plain classifier with indexed ones such as ${indexed[0].name}`);
  }
  const weights = [...new Set(indexed.filter((c) => c.role === 'weight').map((c) => c.index!))].sort((a, b) => a - b);
  // One indexed Linear is what torchvision-style code writes for a one-layer Sequential.
  let stride = weights.length > 1 ? weights[1] - weights[0] : 3;
  let style: CnnStyle = 'torchvision';
  if (indexed.length === 0 || stride === 2) style = 'official';
  else if (stride !== 3) {
    throw unexpected(`classifier.${weights[1]}.weight`, `is ${stride} modules after classifier.${weights[0]}; expected 2 (Linear, ReLU) or 3 (Linear, ReLU, Dropout)`);
  }
  if (indexed.length === 0) stride = 2;
  weights.forEach((index, k) => {
    if (index !== k * stride) throw unexpected(`classifier.${index}.weight`, `breaks the classifier's index progression 0, ${stride}, ${2 * stride}, …`);
  });
  const layerOf = new Map(weights.map((index, k) => [index, k]));
  const canonical = new Map<string, string>();
  for (const name of names) {
    const m = VGG_CLASSIFIER.exec(name);
    if (m === null || m[1] === undefined) {
      canonical.set(name, name);
      continue;
    }
    const k = layerOf.get(Number(m[1]));
    if (k === undefined) throw unexpected(name, `has no matching classifier.${m[1]}.weight`);
    canonical.set(name, weights.length === 1 ? `classifier.${m[2]}` : `classifier.${2 * k}.${m[2]}`);
  }
  return { convention: { family: 'vgg', style }, canonical };
}

/** The user-facing name of a canonical VGG name. */
export function vggUserName(canonical: string, convention: VggNaming): string {
  if (convention.style === 'official') return canonical;
  const m = /^classifier(?:\.(\d+))?\.(weight|bias)$/.exec(canonical);
  if (m === null) return canonical;
  const k = m[1] === undefined ? 0 : Number(m[1]) / 2;
  return `classifier.${3 * k}.${m[2]}`;
}

function weightShape(stateDict: Map<string, Tensor32>, name: string, dims: number, what: string): number[] {
  const shape = stateDict.get(name)!.shape;
  if (shape.length !== dims) throw shapeError(name, shape, `a ${what} weight must be ${dims}-D`);
  return shape;
}

/**
 * Infers a VGG architecture from canonically named tensors.
 *
 * A state dict does not show where the max-pools are, but the module
 * numbering does: each conv takes 2 indices (Conv, ReLU) or 3 with
 * BatchNorm, each pool 1, so a jump of step + m between consecutive convs
 * means m pools between them. Pools after the last conv do not show; every
 * VGG configuration (official and torchvision) ends with exactly one, which
 * is assumed. The classifier's fan-in C·s² then gives the final map's side s,
 * and the input side is s·2^pools.
 */
export function inferVggArch(stateDict: Map<string, Tensor32>): VggArch {
  const convs: Array<{ index: number; name: string; shape: number[] }> = [];
  let batchnorm = false;
  let bias = false;
  for (const [name, t] of stateDict) {
    const m = VGG_FEATURE.exec(name);
    if (m === null) {
      if (name.endsWith('.bias')) bias = true;
      continue;
    }
    if (m[2] === 'running_mean') batchnorm = true;
    if (m[2] === 'weight' && t.shape.length === 4) convs.push({ index: Number(m[1]), name, shape: t.shape });
    if (m[2] === 'bias' && !stateDict.has(`features.${m[1]}.running_mean`)) bias = true;
  }
  if (convs.length === 0) throw new FusionError('MISSING_TENSOR', 'the state dict holds no conv weight (no 4-D features.<i>.weight)', {});
  convs.sort((a, b) => a.index - b.index);
  if (convs[0].index !== 0) throw unexpected(convs[0].name, 'is the first conv, but a VGG feature stack starts at features.0');
  const step = batchnorm ? 3 : 2;
  const config: VggEntry[] = [];
  let pools = 0;
  convs.forEach((conv, k) => {
    config.push(conv.shape[0]);
    const gap = k + 1 < convs.length ? convs[k + 1].index - conv.index - step : 1;
    if (gap < 0) throw unexpected(convs[k + 1].name, `follows ${conv.name} too closely for Conv, ${batchnorm ? 'BatchNorm, ' : ''}ReLU modules`);
    for (let i = 0; i < gap; i++) config.push('M');
    pools += gap;
  });

  const linears = [...stateDict.keys()]
    .filter((n) => /^classifier(\.\d+)?\.weight$/.test(n))
    .sort((a, b) => classifierIndex(a) - classifierIndex(b));
  if (linears.length === 0) throw new FusionError('MISSING_TENSOR', 'tensor classifier.weight is missing', { tensor: 'classifier.weight' });
  const shapes = linears.map((n) => weightShape(stateDict, n, 2, 'linear'));
  const last = convs[convs.length - 1];
  const perChannel = shapes[0][1] / last.shape[0];
  const side = Math.round(Math.sqrt(perChannel));
  if (!Number.isInteger(perChannel) || side * side !== perChannel) {
    throw shapeError(
      linears[0],
      shapes[0],
      `its ${shapes[0][1]} inputs are not ${last.shape[0]} channels times a square map, so the input size cannot be inferred; give the architecture in __metadata__.arch`,
    );
  }
  const size = side * 2 ** pools;
  const arch: VggArch = {
    family: 'vgg',
    input: [size, size, convs[0].shape[1]],
    config,
    classes: shapes[shapes.length - 1][0],
    bias,
  };
  if (shapes.length > 1) arch.fc = shapes.slice(0, -1).map((s) => s[0]);
  if (batchnorm) arch.batchnorm = true;
  return arch;
}

function classifierIndex(name: string): number {
  const m = /^classifier\.(\d+)\./.exec(name);
  return m === null ? 0 : Number(m[1]);
}

// --------------------------------------------------------------- ResNet

const BN_PART = '(weight|bias|running_mean|running_var)';
const RESNET_PARAM = new RegExp(
  '^(?:' +
    [
      `conv1\\.(?:weight|bias)`,
      `bn1\\.${BN_PART}`,
      `layer[1-9]\\d*\\.(?:0|[1-9]\\d*)\\.(?:conv1|conv2)\\.(?:weight|bias)`,
      `layer[1-9]\\d*\\.(?:0|[1-9]\\d*)\\.(?:bn1|bn2)\\.${BN_PART}`,
      `layer[1-9]\\d*\\.(?:0|[1-9]\\d*)\\.(?:shortcut|downsample)\\.0\\.(?:weight|bias)`,
      `layer[1-9]\\d*\\.(?:0|[1-9]\\d*)\\.(?:shortcut|downsample)\\.1\\.${BN_PART}`,
      `(?:linear|fc)\\.(?:weight|bias)`,
    ].join('|') +
    ')$',
);

/** True when the names look like a ResNet state dict. */
export function looksLikeResNet(names: readonly string[]): boolean {
  return names.some((n) => /^layer\d+\.\d+\./.test(n));
}

function resnetStyleOf(name: string): CnnStyle | undefined {
  if (/\.downsample\./.test(name) || name.startsWith('fc.')) return 'torchvision';
  if (/\.shortcut\./.test(name) || name.startsWith('linear.')) return 'official';
  return undefined;
}

export function detectResNetNaming(names: readonly string[]): CnnDetection<ResNetNaming> {
  for (const name of names) {
    if (!RESNET_PARAM.test(name)) {
      throw unexpected(
        name,
        'does not look like a ResNet parameter (expected conv1, bn1, layerX.Y.conv1|bn1|conv2|bn2, layerX.Y.shortcut|downsample.0|1, linear or fc)',
      );
    }
  }
  // The head decides (every ResNet has one); shortcuts must agree with it.
  const head = names.find((n) => n.startsWith('fc.') || n.startsWith('linear.'));
  const style = head === undefined ? (names.map(resnetStyleOf).find((s) => s !== undefined) ?? 'official') : resnetStyleOf(head)!;
  const canonical = new Map<string, string>();
  for (const name of names) {
    const own = resnetStyleOf(name);
    if (own !== undefined && own !== style) {
      throw unexpected(name, `uses ${own} names but ${head ?? 'the other tensors'} uses ${style} ones`);
    }
    canonical.set(name, style === 'official' ? name : name.replace('.downsample.', '.shortcut.').replace(/^fc\./, 'linear.'));
  }
  return { convention: { family: 'resnet', style }, canonical };
}

export function resnetUserName(canonical: string, convention: ResNetNaming): string {
  if (convention.style === 'official') return canonical;
  return canonical.replace('.shortcut.', '.downsample.').replace(/^linear\./, 'fc.');
}

/**
 * Infers a ResNet architecture from canonically named tensors: stages from
 * `layerX`, blocks per stage from the largest `Y`, each stage's width from its
 * first conv1, classes from `linear`, bias and BatchNorm from their presence.
 * The input is assumed INFERRED_RESNET_SIZE square (see there).
 */
export function inferResNetArch(stateDict: Map<string, Tensor32>): ResNetArch {
  if (!stateDict.has('conv1.weight')) throw new FusionError('MISSING_TENSOR', 'tensor conv1.weight is missing', { tensor: 'conv1.weight' });
  if (!stateDict.has('linear.weight')) throw new FusionError('MISSING_TENSOR', 'tensor linear.weight is missing', { tensor: 'linear.weight' });
  const stem = weightShape(stateDict, 'conv1.weight', 4, 'conv');
  const head = weightShape(stateDict, 'linear.weight', 2, 'linear');
  const blocks: number[] = [];
  for (const name of stateDict.keys()) {
    const m = /^layer(\d+)\.(\d+)\./.exec(name);
    if (m === null) continue;
    const stage = Number(m[1]) - 1;
    blocks[stage] = Math.max(blocks[stage] ?? 0, Number(m[2]) + 1);
  }
  const widths: number[] = [];
  for (let stage = 0; stage < blocks.length; stage++) {
    const first = `layer${stage + 1}.0.conv1.weight`;
    if (blocks[stage] === undefined || !stateDict.has(first)) {
      throw new FusionError('MISSING_TENSOR', `tensor ${first} is missing (stages must be layer1, layer2, … without gaps)`, { tensor: first });
    }
    widths.push(weightShape(stateDict, first, 4, 'conv')[0]);
  }
  if (widths.length === 0) throw new FusionError('MISSING_TENSOR', 'tensor layer1.0.conv1.weight is missing', { tensor: 'layer1.0.conv1.weight' });
  const names = [...stateDict.keys()];
  const arch: ResNetArch = {
    family: 'resnet',
    input: [INFERRED_RESNET_SIZE, INFERRED_RESNET_SIZE, stem[1]],
    blocks,
    widths,
    classes: head[0],
    bias: names.some((n) => /(^|\.)(conv1|conv2|shortcut\.0|linear)\.bias$/.test(n)),
  };
  if (names.some((n) => n.endsWith('.running_mean'))) arch.batchnorm = true;
  return arch;
}
