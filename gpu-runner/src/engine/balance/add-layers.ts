/**
 * Balancing by adding layers (docs/algorithm.md §6.1): the shallower model B
 * becomes B', with A's depth and B's widths. Each unmatched A slot receives
 * a layer that passes its input through, of the width of the B layer before
 * it; since that input is a ReLU output (≥ 0, also after a max-pool), B'
 * computes exactly what B computes.
 *
 * What "passes through" means per family:
 * - MLP: I_p;
 * - VGG: a p×p×3×3 kernel that is 1 at the centre tap of o = i (pad 1,
 *   stride 1 reproduce the input); an identity FC layer for hidden FC slots;
 * - ResNet: whole BasicBlocks with all-zero conv1 and conv2 and an identity
 *   shortcut, which compute ReLU(0 + x) = x.
 *
 * Beyond the official code (§12 item 1), biases and BatchNorm are handled:
 * inserted biases are zero; an inserted VGG layer's BatchNorm is the identity
 * in eval mode (running mean 0, variance 1, weight √(1 + eps), bias 0); a
 * zero block's BatchNorms have weight and bias 0, so they output 0 in eval
 * and in training mode alike and the block still adds nothing.
 */
import { type Arch, BN_SUFFIXES, type LayerSpec, type Model, type Params, layerCount, layerSpecs, makeModel } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { type Tensor32, tensor32 } from '@clafusion/model-format/tensor';
import { validateMapping } from '../cla/dynamic-program.ts';
import { BN_EPS } from '../nn/batchnorm.ts';

/** Which B layer (0-based) fills each slot of B', or null for an inserted layer. */
export type AddPlan = (number | null)[];

/**
 * The slot plan of §6.1: for mapping a (1-based, length n over B's hidden
 * layers) into A's m hidden layers, returns m+1 entries (hidden slots plus the
 * classifier).
 */
export function addLayersPlan(mapping: readonly number[], m: number): AddPlan {
  const n = mapping.length;
  validateMapping(mapping, n, m);
  const a = [...mapping, m + 1]; // the classifier maps to the classifier
  const plan: AddPlan = [];
  let c = 1;
  for (let k = 1; k <= n + 1; k++) {
    if (k === 1) {
      while (c < a[0]) {
        plan.push(null);
        c++;
      }
    }
    plan.push(k - 1);
    c++;
    if (k <= n) {
      while (c < a[k]) {
        plan.push(null);
        c++;
      }
    }
  }
  return plan;
}

/**
 * The architecture of B' (and of the fused model): A's depth and layout
 * with B's widths.
 * - MLP: the emitted widths.
 * - VGG: A's config with its conv entries replaced, in order, by B''s conv
 *   widths, so the max-pools sit at A's positions; hidden FC widths likewise.
 * - ResNet: A's blocks per stage with B's stage widths.
 */
export function depthAlignedArch(A: Arch, B: Arch, plan: AddPlan): Arch {
  const specsB = layerSpecs(B);
  const inputWidth = specsB[0].shape[1];
  // An inserted layer takes the width of the emitted layer before it.
  const widths: number[] = [];
  let width = inputWidth;
  for (const source of plan.slice(0, -1)) {
    if (source !== null) width = specsB[source].shape[0];
    widths.push(width);
  }
  switch (A.family) {
    case 'mlp':
      return { ...(B as typeof A), hidden: widths };
    case 'vgg': {
      const b = B as typeof A;
      let k = 0;
      const config = A.config.map((e) => (e === 'M' ? e : widths[k++]));
      const fc = widths.slice(k);
      const arch: typeof A = { family: 'vgg', input: b.input, config, classes: b.classes, bias: b.bias };
      if (fc.length > 0) arch.fc = fc;
      if (b.batchnorm) arch.batchnorm = true;
      return arch;
    }
    case 'resnet':
      return { ...(B as typeof A), blocks: [...A.blocks] };
  }
}

/** Builds B' from B for a per-layer mapping into the deeper architecture A (§6.1). */
export function addLayers(B: Model, mapping: readonly number[], A: Arch): Model {
  if (A.family !== B.arch.family) throw new FusionError('INCOMPATIBLE_MODELS', `cannot add layers of a ${A.family} to a ${B.arch.family}`);
  const m = layerCount(A) - 1;
  const n = layerCount(B.arch) - 1;
  if (mapping.length !== n) {
    throw new FusionError('INVALID_ARGUMENT', `mapping has ${mapping.length} entries but the shallower model has ${n} hidden layers`);
  }
  const plan = addLayersPlan(mapping, m);
  const arch = depthAlignedArch(A, B.arch, plan);
  const specs = layerSpecs(arch);
  const specsB = layerSpecs(B.arch);
  if (arch.family === 'resnet') checkWholeBlocks(specs, plan);
  const params: Params = new Map();
  plan.forEach((source, slot) => {
    const spec = specs[slot];
    if (source === null) insertPassThrough(arch, spec, params);
    else copyLayer(B, specsB[source], spec, params);
  });
  return makeModel(arch, params);
}

function copyLayer(B: Model, from: LayerSpec, to: LayerSpec, params: Params): void {
  const get = (name: string): Tensor32 => {
    const t = B.params.get(name);
    if (t === undefined) throw new FusionError('MISSING_TENSOR', `tensor ${name} is missing`, { tensor: name });
    return { shape: [...t.shape], data: Float32Array.from(t.data) };
  };
  if (from.kind !== to.kind || from.shape.join() !== to.shape.join()) {
    throw new FusionError(
      'INCOMPATIBLE_MODELS',
      `layer ${from.module} [${from.shape.join(', ')}] of the shallower model does not fit slot ${to.module} [${to.shape.join(', ')}] of the depth-aligned model`,
      { tensor: from.weight },
    );
  }
  params.set(to.weight, get(from.weight));
  if (to.bias && from.bias) params.set(to.bias, get(from.bias));
  if (to.bn && from.bn) for (const suffix of BN_SUFFIXES) params.set(`${to.bn}.${suffix}`, get(`${from.bn}.${suffix}`));
}

function insertPassThrough(arch: Arch, spec: LayerSpec, params: Params): void {
  const [o, i] = spec.shape;
  const zeroBlock = arch.family === 'resnet';
  if (!zeroBlock && o !== i) {
    // Only an FC slot right after a conv whose map is larger than 1×1 gets here.
    throw new FusionError(
      'UNSUPPORTED',
      `cannot insert a pass-through layer at ${spec.module}: its input has ${i} values for ${o} outputs (a flattened ${o}-channel map larger than 1×1)`,
      { tensor: spec.weight },
    );
  }
  const w = tensor32(spec.shape);
  if (!zeroBlock) {
    const taps = spec.kind === 'conv' ? spec.shape[2] * spec.shape[3] : 1;
    // Centre tap (kh/2, kw/2) for convs; the diagonal for linear layers.
    const centre = spec.kind === 'conv' ? Math.floor(spec.shape[2] / 2) * spec.shape[3] + Math.floor(spec.shape[3] / 2) : 0;
    for (let c = 0; c < o; c++) w.data[(c * i + c) * taps + centre] = 1;
  }
  params.set(spec.weight, w);
  if (spec.bias) params.set(spec.bias, tensor32([o]));
  if (spec.bn) {
    // Identity BN: (x − 0)/√(1 + eps)·√(1 + eps) + 0. Zero-block BN: 0·… + 0.
    const weight = zeroBlock ? 0 : Math.sqrt(1 + BN_EPS);
    params.set(`${spec.bn}.weight`, tensor32([o], new Float32Array(o).fill(weight)));
    params.set(`${spec.bn}.bias`, tensor32([o]));
    params.set(`${spec.bn}.running_mean`, tensor32([o]));
    params.set(`${spec.bn}.running_var`, tensor32([o], new Float32Array(o).fill(1)));
  }
}

/**
 * ResNet layers are inserted as whole blocks with an identity shortcut
 * (§6.1): a block's layers must be all copied or all inserted, and an
 * inserted block cannot be a down-sampling one.
 */
function checkWholeBlocks(specs: readonly LayerSpec[], plan: AddPlan): void {
  specs.forEach((spec, slot) => {
    if (plan[slot] !== null) return;
    const block = specs.filter((s) => s.role !== 'stem' && s.role !== 'classifier' && s.stage === spec.stage && s.block === spec.block);
    const whole = (spec.role === 'conv1' || spec.role === 'conv2') && block.every((s) => plan[s.index] === null);
    if (!whole || block.some((s) => s.role === 'shortcut')) {
      throw new FusionError(
        'INCOMPATIBLE_MODELS',
        `cannot insert ${spec.module} alone: ResNet layers are inserted as whole blocks with an identity shortcut, and ${spec.role === 'conv1' || spec.role === 'conv2' ? `layer${spec.stage! + 1}.${spec.block} is ${block.some((s) => s.role === 'shortcut') ? 'a down-sampling block' : 'only partly matched'}` : `${spec.module} is the ${spec.role}`}`,
        { tensor: spec.weight },
      );
    }
  });
}
