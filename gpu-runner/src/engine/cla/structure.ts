/**
 * The units cross-layer alignment matches, per family (docs/algorithm.md §5).
 *
 * - MLP: one part, `hidden`, whose units are the hidden layers.
 * - VGG (§5.2): one part per max-pool group, whose units are its convs, then
 *   a part `fc` for the hidden fully connected layers when the deeper model
 *   has any (§5.1). A mapping never crosses a pool, so a matched pair always
 *   sees feature maps of the same size.
 * - ResNet (§5.3): one part per stage, whose units are whole BasicBlocks; a
 *   block is represented by the value recorded for its last layer (the 1×1
 *   shortcut of a down-sampling block, the conv2 residual sum otherwise).
 *   The stem is matched to the stem and is not part of any stage.
 *
 * Layer indices here are 0-based positions among the hidden layers, which
 * are the weight tensors in parameter order without the classifier.
 */
import { type Arch, type LayerSpec, layerSpecs } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';

export interface AlignmentUnit {
  /** Module name of a layer, or `layerX.Y` for a ResNet block. */
  label: string;
  /** Hidden layers of the unit, 0-based, in order. */
  layers: number[];
  /** The hidden layer whose recorded value (and width) represents the unit. */
  representative: number;
}

export interface AlignmentPart {
  /** `hidden`, `group 1` … (VGG), `fc`, `stage 1` … (ResNet). */
  name: string;
  units: AlignmentUnit[];
}

/** Hidden layers aligned outside every part: the ResNet stem (matched to the stem). */
export interface ModelStructure {
  fixedPrefix: number[];
  parts: AlignmentPart[];
}

const single = (s: LayerSpec): AlignmentUnit => ({ label: s.module, layers: [s.index], representative: s.index });

export function alignmentStructure(arch: Arch): ModelStructure {
  const hidden = layerSpecs(arch).slice(0, -1);
  switch (arch.family) {
    case 'mlp':
      return { fixedPrefix: [], parts: [{ name: 'hidden', units: hidden.map(single) }] };
    case 'vgg': {
      const pools = arch.config.filter((e) => e === 'M').length;
      // Convs after the last pool (configs that do not end with "M") form one more group.
      const groups = pools + (arch.config.at(-1) === 'M' ? 0 : 1);
      const parts: AlignmentPart[] = Array.from({ length: groups }, (_, g) => ({ name: `group ${g + 1}`, units: [] }));
      const fc: AlignmentUnit[] = [];
      for (const s of hidden) {
        if (s.kind === 'conv') parts[s.group!].units.push(single(s));
        else fc.push(single(s));
      }
      if (fc.length > 0) parts.push({ name: 'fc', units: fc });
      return { fixedPrefix: [], parts };
    }
    case 'resnet': {
      const parts: AlignmentPart[] = arch.blocks.map((_, s) => ({ name: `stage ${s + 1}`, units: [] }));
      for (const s of hidden) {
        if (s.role === 'stem') continue;
        const part = parts[s.stage!];
        let unit = part.units[s.block!];
        if (unit === undefined) {
          unit = { label: `layer${s.stage! + 1}.${s.block}`, layers: [], representative: s.index };
          part.units[s.block!] = unit;
        }
        unit.layers.push(s.index);
        unit.representative = s.index; // the block's last layer
      }
      return { fixedPrefix: [0], parts };
    }
  }
}

/**
 * The two models' structures, part by part. Parts must correspond: the same
 * number of pool groups / stages, the deeper model having at least as many
 * units in each. A VGG `fc` part of the deeper model needs one in the
 * shallower model, and vice versa.
 */
export function pairedStructures(A: Arch, B: Arch): { a: ModelStructure; b: ModelStructure } {
  if (A.family !== B.family) {
    throw new FusionError('INCOMPATIBLE_MODELS', `cannot align a ${A.family} with a ${B.family}`);
  }
  const a = alignmentStructure(A);
  const b = alignmentStructure(B);
  const what = A.family === 'resnet' ? 'stages' : A.family === 'vgg' ? 'max-pool groups' : 'parts';
  const names = (s: ModelStructure) => s.parts.map((p) => p.name).join(', ');
  if (a.parts.length !== b.parts.length || a.parts.some((p, i) => p.name !== b.parts[i].name)) {
    throw new FusionError(
      'INCOMPATIBLE_MODELS',
      `the models have different ${what} (deeper: ${names(a)}; shallower: ${names(b)}); CLA aligns ${what} to ${what} (spec §5)`,
    );
  }
  a.parts.forEach((part, i) => {
    if (part.units.length < b.parts[i].units.length) {
      throw new FusionError(
        'INCOMPATIBLE_MODELS',
        `${part.name}: the deeper model has ${part.units.length} ${A.family === 'resnet' ? 'blocks' : 'layers'} but the shallower has ${b.parts[i].units.length}; every part of the deeper model must be at least as deep`,
        { field: part.name },
      );
    }
  });
  return { a, b };
}
