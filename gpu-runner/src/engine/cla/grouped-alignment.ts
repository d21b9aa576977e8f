/**
 * Cross-layer alignment part by part (docs/algorithm.md §5): a cost matrix and a
 * unit mapping per part (the whole hidden stack for an MLP, each max-pool
 * group and the hidden FC layers for a VGG, each stage for a ResNet), then
 * the per-layer mapping over all hidden layers of the shallower model.
 *
 * The mapping kinds act inside every part with the same settings: the DP
 * with the same s and f (§5.2), `chain` per part (§4.5: block i ↔ block i
 * for ResNet), `random` per part from one seeded generator. An explicit
 * mapping is given per layer and checked against the structure instead.
 */
import { FusionError } from '@clafusion/model-format/errors';
import type { Mat64 } from '@clafusion/model-format/tensor';
import { type AlignOptions, alignLayers, chainMapping, mappingCost, randomMapping, validateMapping } from './dynamic-program.ts';
import { type AlignmentPart, type AlignmentUnit, type ModelStructure, pairedStructures } from './structure.ts';
import type { Arch } from '@clafusion/model-format/arch';

export type UnitMappingKind =
  | { kind: 'cla'; align: AlignOptions }
  | { kind: 'chain' }
  | { kind: 'random'; random: () => number }
  | { kind: 'explicit'; mapping: readonly number[] };

export interface PartAlignment {
  name: string;
  /** Unit labels of the rows (deeper model) and columns (shallower model). */
  rows: string[];
  cols: string[];
  cost: Mat64;
  /** 1-based within the part: mapping[k−1] = j means column unit k ↔ row unit j. */
  mapping: number[];
  /** Σ_k C[a(k)][k]. */
  total: number;
}

export interface GroupedAlignment {
  parts: PartAlignment[];
  /** 1-based per hidden layer of the shallower model, into the deeper model's hidden layers (§4.1). */
  mapping: number[];
}

/** Cost matrix between the representatives of two lists of units (rows A, columns B). */
export type UnitCost = (unitsA: readonly AlignmentUnit[], unitsB: readonly AlignmentUnit[], part: AlignmentPart) => Mat64;

export function alignByParts(A: Arch, B: Arch, cost: UnitCost, how: UnitMappingKind): GroupedAlignment {
  const { a, b } = pairedStructures(A, B);
  const partCosts = a.parts.map((part, i) => cost(part.units, b.parts[i].units, part));
  let unitMaps: number[][];
  if (how.kind === 'explicit') {
    unitMaps = unitMapsFromLayerMapping(a, b, how.mapping);
  } else {
    unitMaps = a.parts.map((part, i) => {
      const m = part.units.length;
      const n = b.parts[i].units.length;
      if (n === 0) return [];
      switch (how.kind) {
        case 'cla':
          return alignLayers(partCosts[i], how.align);
        case 'chain':
          return chainMapping(n, m);
        case 'random':
          return randomMapping(n, m, how.random);
      }
    });
  }
  const parts = a.parts.map((part, i) => ({
    name: part.name,
    rows: part.units.map((u) => u.label),
    cols: b.parts[i].units.map((u) => u.label),
    cost: partCosts[i],
    mapping: unitMaps[i],
    total: mappingCost(partCosts[i], unitMaps[i]),
  }));
  return { parts, mapping: expandToLayers(a, b, unitMaps) };
}

/**
 * The per-layer mapping: the fixed prefix (ResNet stem ↔ stem), then for
 * every unit of the shallower model, in order, all layers of its matched
 * unit (§5.3's expansion; for single-layer units just the layer).
 */
export function expandToLayers(a: ModelStructure, b: ModelStructure, unitMaps: readonly number[][]): number[] {
  const out = a.fixedPrefix.map((l) => l + 1);
  b.parts.forEach((part, i) => {
    part.units.forEach((unit, k) => {
      const target = a.parts[i].units[unitMaps[i][k] - 1];
      if (target.layers.length !== unit.layers.length) {
        // Only reachable for ResNet without the first-layer constraint (§5.3).
        throw new FusionError(
          'INCOMPATIBLE_MODELS',
          `${part.name}: block ${unit.label} (${unit.layers.length} layers) was matched to ${target.label} (${target.layers.length} layers); a block with a shortcut conv can only match another one — keep the first-layer constraint on for ResNets`,
          { field: part.name },
        );
      }
      out.push(...target.layers.map((l) => l + 1));
    });
  });
  return out;
}

/** Checks a user's per-layer mapping against the structures and returns the unit mapping of every part. */
function unitMapsFromLayerMapping(a: ModelStructure, b: ModelStructure, mapping: readonly number[]): number[][] {
  const n = b.fixedPrefix.length + b.parts.reduce((s, p) => s + p.units.reduce((t, u) => t + u.layers.length, 0), 0);
  const m = a.fixedPrefix.length + a.parts.reduce((s, p) => s + p.units.reduce((t, u) => t + u.layers.length, 0), 0);
  const map = validateMapping(mapping, n, m, 'mapping');
  b.fixedPrefix.forEach((l, k) => {
    if (map[l] !== a.fixedPrefix[k] + 1) {
      throw new FusionError('INVALID_ARGUMENT', `mapping[${l + 1}] must be ${a.fixedPrefix[k] + 1}: the stem is matched to the stem`, { field: 'mapping' });
    }
  });
  return b.parts.map((part, i) => {
    const unitsA = a.parts[i].units;
    return part.units.map((unit) => {
      const first = map[unit.layers[0]] - 1;
      const j = unitsA.findIndex((u) => u.layers[0] === first);
      const target = unitsA[j];
      const ok = target !== undefined && target.layers.length === unit.layers.length && unit.layers.every((l, r) => map[l] - 1 === target.layers[r]);
      if (!ok) {
        const layers = unit.layers.map((l) => `mapping[${l + 1}] = ${map[l]}`).join(', ');
        throw new FusionError(
          'INVALID_ARGUMENT',
          `${layers}: ${unit.label} of the shallower model must map onto ${unit.layers.length === 1 ? 'a layer' : 'all layers of one block'} in ${part.name} of the deeper model (layers ${unitsA.map((u) => u.layers.map((l) => l + 1).join('-')).join(', ')})`,
          { field: 'mapping' },
        );
      }
      return j + 1;
    });
  });
}
