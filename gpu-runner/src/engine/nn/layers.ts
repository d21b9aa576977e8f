/**
 * Where each layer's tensors sit in the flat parameter list the nets receive
 * (paramSpecs order), and the shape of each layer's recorded value.
 *
 * The nets index `params` positionally, so this is the one place that ties a
 * position to a layer and a role; it reads the order from paramSpecs rather
 * than re-deriving it, so it cannot drift from arch.ts.
 */
import { type Arch, type LayerSpec, type ResNetArch, type VggArch, layerSpecs, paramSpecs } from '@clafusion/model-format/arch';

/** Positions of a BatchNorm's tensors in the parameter list. */
export interface BnIndices {
  weight: number;
  bias: number;
  runningMean: number;
  runningVar: number;
}

/** One weight tensor ("layer") with the positions of everything that belongs to it. */
export interface LayerParams {
  spec: LayerSpec;
  /** The layer's position in layerSpecs order. */
  index: number;
  weight: number;
  bias?: number;
  bn?: BnIndices;
}

/** The layers of `arch` in parameter order, with their tensors' positions. */
export function layerParams(arch: Arch): LayerParams[] {
  const layers: LayerParams[] = layerSpecs(arch).map((spec, index) => ({ spec, index, weight: -1 }));
  const bn = new Map<number, Partial<BnIndices>>();
  paramSpecs(arch).forEach((p, i) => {
    const layer = layers[p.layer];
    const slot = bn.get(p.layer) ?? {};
    switch (p.role) {
      case 'weight':
        layer.weight = i;
        break;
      case 'bias':
        layer.bias = i;
        break;
      case 'bn.weight':
        slot.weight = i;
        break;
      case 'bn.bias':
        slot.bias = i;
        break;
      case 'bn.running_mean':
        slot.runningMean = i;
        break;
      case 'bn.running_var':
        slot.runningVar = i;
        break;
    }
    if (p.role.startsWith('bn.')) bn.set(p.layer, slot);
  });
  for (const [layer, slot] of bn) layers[layer].bn = slot as BnIndices;
  return layers;
}

/**
 * Positions of the BatchNorm running statistics: buffers, not parameters, so
 * training updates them from batch statistics instead of by gradient.
 */
export function runningStatIndices(arch: Arch): Set<number> {
  const out = new Set<number>();
  paramSpecs(arch).forEach((p, i) => {
    if (p.role === 'bn.running_mean' || p.role === 'bn.running_var') out.add(i);
  });
  return out;
}

/** Output side of a convolution (PyTorch's floor rule; tfjs agrees for the paddings used here). */
export function convOutSize(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

/**
 * The shape of every recorded value (tap) per sample, in parameter order:
 * [C, H, W] for a conv layer (the tap is that map flattened in C,H,W order),
 * [width] for a linear layer. A tap's width is the product of its shape.
 */
export function tapShapes(arch: Arch): number[][] {
  switch (arch.family) {
    case 'mlp':
      return layerSpecs(arch).map((s) => [s.shape[0]]);
    case 'vgg':
      return vggTapShapes(arch);
    case 'resnet':
      return resnetTapShapes(arch);
  }
}

function vggTapShapes(arch: VggArch): number[][] {
  const specs = layerSpecs(arch);
  const shapes: number[][] = [];
  let [h, w] = arch.input;
  let k = 0;
  for (const entry of arch.config) {
    if (entry === 'M') {
      // MaxPool2d(2, 2) floors odd sizes.
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
      continue;
    }
    shapes.push([entry, h, w]);
    k++;
  }
  for (; k < specs.length; k++) shapes.push([specs[k].shape[0]]);
  return shapes;
}

function resnetTapShapes(arch: ResNetArch): number[][] {
  let [h, w] = arch.input;
  return layerSpecs(arch).map((s) => {
    if (s.kind === 'linear') return [s.shape[0]];
    // The shortcut comes after conv1 and conv2 in parameter order but reads
    // the block input; its output has the block's output size, which conv1
    // (the only strided 3×3 conv of a block) has already set.
    if (s.role !== 'shortcut') {
      h = convOutSize(h, s.shape[2], s.stride, s.padding);
      w = convOutSize(w, s.shape[3], s.stride, s.padding);
    }
    return [s.shape[0], h, w];
  });
}
