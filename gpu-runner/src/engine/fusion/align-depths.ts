/**
 * Cross-layer alignment of two models of different depth: build the layer
 * cost matrix, solve the mapping (spec §3–§4) and balance the pair (§6).
 */
import { type Model, layerCount, layerWidths } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import type { Mat64 } from '@clafusion/model-format/tensor';
import { Rng } from '../rng.ts';
import { ckaCost, layerIndexCost, neuronCountCost, wassersteinCost } from '../cla/layer-cost.ts';
import { type UnitCost, type UnitMappingKind, alignByParts } from '../cla/grouped-alignment.ts';
import { type AlignmentUnit, pairedStructures } from '../cla/structure.ts';
import { addLayers } from '../balance/add-layers.ts';
import { mergeLayers } from '../balance/merge-layers.ts';
import type { FusionOptions } from './options.ts';
import type { FusionHooks } from './hooks.ts';
import { type Tap, tapActivations } from './taps.ts';

export interface AlignmentGroup {
  /** Part name: `hidden` for MLPs, `group k` / `fc` for VGG, `stage k` for ResNet (spec §5). */
  name: string;
  /** Labels of the rows (deeper model's layers or blocks) and columns (shallower model's). */
  rows: string[];
  cols: string[];
  /** Rows = the deeper model's units, columns = the shallower model's. */
  costMatrix: number[][];
  /** 1-based within the part: mapping[k−1] = j means shallower unit k ↔ deeper unit j. */
  mapping: number[];
  /** Σ_k C[a(k)][k] of the chosen mapping. */
  cost: number;
}

export interface DepthAlignment {
  groups: AlignmentGroup[];
  /** 1-based per hidden layer of the shallower model (§4.1), all parts concatenated. */
  mapping: number[];
  /** The balanced pair: (N0, N1) = (A, B′) for add, (A_m, B) for merge. */
  n0: Model;
  n1: Model;
  /** The depth-aligned model (B′ or A_m) and which side it came from. */
  depthAligned: { model: Model; from: 'deeper' | 'shallower'; method: 'add' | 'merge' };
}

function costNeedsActivations(options: FusionOptions): boolean {
  return options.layerCost === 'cka' || options.layerCost === 'wasserstein';
}

/**
 * The layer cost between units, computed on each unit's representative
 * (its only layer, or a ResNet block's last layer, §5.3).
 */
export function unitCost(A: Model, B: Model, options: FusionOptions, samples: number, tapsA?: Tap[], tapsB?: Tap[]): UnitCost {
  const widthsA = layerWidths(A.arch);
  const widthsB = layerWidths(B.arch);
  const acts = (taps: Tap[] | undefined, units: readonly AlignmentUnit[]) => units.map((u) => tapActivations(taps![u.representative], samples));
  return (unitsA, unitsB): Mat64 => {
    switch (options.layerCost) {
      case 'neurons':
        return neuronCountCost(
          unitsA.map((u) => widthsA[u.representative]),
          unitsB.map((u) => widthsB[u.representative]),
        );
      case 'index':
        // Global indices of the representatives (a ResNet block: its last layer), §5.
        return layerIndexCost(
          unitsA.map((u) => u.representative),
          unitsB.map((u) => u.representative),
        );
      case 'cka':
        return ckaCost(acts(tapsA, unitsA), acts(tapsB, unitsB));
      case 'wasserstein':
        return wassersteinCost(acts(tapsA, unitsA), acts(tapsB, unitsB), options.groundMetric);
    }
  };
}

function mappingKind(options: FusionOptions): UnitMappingKind {
  switch (options.mapping.kind) {
    case 'cla':
      return {
        kind: 'cla',
        align: { startLayer: options.mapping.firstConstraint ? 2 : 1, fixedEndLayers: options.mapping.lastConstraint ? 1 : 0 },
      };
    case 'chain':
      return { kind: 'chain' };
    case 'random': {
      // One generator for all parts, in part order: reproducible from the seed.
      const rng = new Rng(options.seed);
      return { kind: 'random', random: () => rng.uniform() };
    }
    case 'explicit':
      return { kind: 'explicit', mapping: options.mapping.mapping };
  }
}

/**
 * A must be strictly deeper than B. Returns the mapping, the cost matrices
 * per part and the balanced pair.
 */
export async function alignDepths(
  A: Model,
  B: Model,
  options: FusionOptions,
  hooks: FusionHooks,
): Promise<DepthAlignment> {
  const samples = hooks.rows;
  const m = layerCount(A.arch) - 1;
  const n = layerCount(B.arch) - 1;
  if (m <= n) throw new FusionError('INVALID_ARGUMENT', 'alignDepths needs a strictly deeper first model');
  if (n < 1) {
    throw new FusionError('INCOMPATIBLE_MODELS', 'the shallower model has no hidden layer; there is nothing to align');
  }
  if (options.balance === 'merge' && A.arch.family !== 'mlp') {
    throw new FusionError('UNSUPPORTED', `merging layers is defined for MLPs only (spec §6.2); balance the ${A.arch.family} by adding layers (balance=add)`, {
      field: 'balance',
    });
  }

  let tapsA: Tap[] | undefined;
  let tapsB: Tap[] | undefined;
  const needTaps = costNeedsActivations(options) || options.balance === 'merge';
  if (needTaps) {
    hooks.stage?.('activations', 'start');
    tapsA = await hooks.record(A, 'deeper');
    if (costNeedsActivations(options)) tapsB = await hooks.record(B, 'shallower');
    hooks.stage?.('activations', 'end');
  }

  // The cost matrices are computed for every mapping kind: the baselines report them too.
  hooks.stage?.('cost', 'start');
  const cost = unitCost(A, B, options, samples, tapsA, tapsB);
  const { a, b } = pairedStructures(A.arch, B.arch);
  const costs = new Map(a.parts.map((part, i) => [part.name, cost(part.units, b.parts[i].units, part)]));
  hooks.stage?.('cost', 'end');

  hooks.stage?.('alignment', 'start');
  const aligned = alignByParts(A.arch, B.arch, (_a, _b, part) => costs.get(part.name)!, mappingKind(options));
  hooks.stage?.('alignment', 'end');
  const mapping = aligned.mapping;

  hooks.stage?.('balance', 'start');
  let result: DepthAlignment;
  if (options.balance === 'add') {
    const Bp = addLayers(B, mapping, A.arch);
    result = { groups: [], mapping, n0: A, n1: Bp, depthAligned: { model: Bp, from: 'shallower', method: 'add' } };
  } else {
    const Am = mergeLayers(A, mapping, tapsA!.slice(0, -1).map((tap) => tap.data), samples, options.mergeEstimator);
    result = { groups: [], mapping, n0: Am, n1: B, depthAligned: { model: Am, from: 'deeper', method: 'merge' } };
  }
  hooks.stage?.('balance', 'end');

  for (const part of aligned.parts) {
    result.groups.push({ name: part.name, rows: part.rows, cols: part.cols, costMatrix: matrixRows(part.cost), mapping: part.mapping, cost: part.total });
  }
  return result;
}

export function matrixRows(C: Mat64): number[][] {
  return Array.from({ length: C.rows }, (_, i) => Array.from(C.data.subarray(i * C.cols, (i + 1) * C.cols)));
}
