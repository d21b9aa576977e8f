/**
 * Cross-layer alignment of two models of different depth: build the layer
 * cost matrix, solve the mapping (spec §3–§4) and balance the pair (§6).
 */
import { type Model, layerCount, layerWidths } from '../arch.ts';
import { FusionError } from '../errors.ts';
import type { Mat64 } from '../tensor.ts';
import { Rng } from '../rng.ts';
import { alignLayers, chainMapping, mappingCost, randomMapping, validateMapping } from '../cla/dynamic-program.ts';
import { ckaCost, indexCost, neuronCountCost, wassersteinCost } from '../cla/layer-cost.ts';
import { addLayers } from '../balance/add-layers.ts';
import { mergeLayers } from '../balance/merge-layers.ts';
import { layerActivations } from './model-layers.ts';
import type { FusionOptions } from './options.ts';
import type { FusionHooks } from './hooks.ts';

export interface AlignmentGroup {
  /** Group name: `hidden` for MLPs; a max-pool group or stage for CNNs. */
  name: string;
  /** Rows = the deeper model's hidden layers, columns = the shallower model's. */
  costMatrix: number[][];
  /** 1-based: mapping[k−1] = j means shallower layer k ↔ deeper layer j. */
  mapping: number[];
  /** Σ_k C[a(k)][k] of the chosen mapping. */
  cost: number;
}

export interface DepthAlignment {
  groups: AlignmentGroup[];
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

export function layerCostMatrix(
  A: Model,
  B: Model,
  options: FusionOptions,
  samples: number,
  tapsA?: Float32Array[],
  tapsB?: Float32Array[],
): Mat64 {
  const widthsA = layerWidths(A.arch).slice(0, -1);
  const widthsB = layerWidths(B.arch).slice(0, -1);
  switch (options.layerCost) {
    case 'neurons':
      return neuronCountCost(widthsA, widthsB);
    case 'index':
      return indexCost(widthsA.length, widthsB.length);
    case 'cka':
      return ckaCost(layerActivations(tapsA!, samples), layerActivations(tapsB!, samples));
    case 'wasserstein':
      return wassersteinCost(layerActivations(tapsA!, samples), layerActivations(tapsB!, samples), options.groundMetric);
  }
}

/**
 * A must be strictly deeper than B. Returns the mapping, the cost matrix and
 * the balanced pair.
 */
export async function alignDepths(
  A: Model,
  B: Model,
  options: FusionOptions,
  samples: number,
  hooks: FusionHooks,
): Promise<DepthAlignment> {
  const m = layerCount(A.arch) - 1;
  const n = layerCount(B.arch) - 1;
  if (m <= n) throw new FusionError('INVALID_ARGUMENT', 'alignDepths needs a strictly deeper first model');
  if (n < 1) {
    throw new FusionError('INCOMPATIBLE_MODELS', 'the shallower model has no hidden layer; there is nothing to align');
  }

  let tapsA: Float32Array[] | undefined;
  let tapsB: Float32Array[] | undefined;
  const needTaps = costNeedsActivations(options) || options.balance === 'merge';
  if (needTaps) {
    hooks.stage?.('activations', 'start');
    tapsA = await hooks.record(A, 'deeper');
    if (costNeedsActivations(options)) tapsB = await hooks.record(B, 'shallower');
    hooks.stage?.('activations', 'end');
  }

  hooks.stage?.('cost', 'start');
  // Computed for every mapping kind: the baselines report it too.
  const C = layerCostMatrix(A, B, options, samples, tapsA, tapsB);
  hooks.stage?.('cost', 'end');

  hooks.stage?.('alignment', 'start');
  let mapping: number[];
  switch (options.mapping.kind) {
    case 'cla':
      mapping = alignLayers(C, {
        startLayer: options.mapping.firstConstraint ? 2 : 1,
        fixedEndLayers: options.mapping.lastConstraint ? 1 : 0,
      });
      break;
    case 'chain':
      mapping = chainMapping(n, m);
      break;
    case 'random': {
      const rng = new Rng(options.seed);
      mapping = randomMapping(n, m, () => rng.uniform());
      break;
    }
    case 'explicit':
      mapping = validateMapping(options.mapping.mapping, n, m, 'mapping');
      break;
  }
  hooks.stage?.('alignment', 'end');

  hooks.stage?.('balance', 'start');
  let result: DepthAlignment;
  if (options.balance === 'add') {
    const Bp = addLayers(B, mapping, m);
    result = { groups: [], mapping, n0: A, n1: Bp, depthAligned: { model: Bp, from: 'shallower', method: 'add' } };
  } else {
    const Am = mergeLayers(A, mapping, tapsA!.slice(0, -1), samples, options.mergeEstimator);
    result = { groups: [], mapping, n0: Am, n1: B, depthAligned: { model: Am, from: 'deeper', method: 'merge' } };
  }
  hooks.stage?.('balance', 'end');

  result.groups.push({
    name: 'hidden',
    costMatrix: matrixRows(C),
    mapping,
    cost: mappingCost(C, mapping),
  });
  return result;
}

export function matrixRows(C: Mat64): number[][] {
  return Array.from({ length: C.rows }, (_, i) => Array.from(C.data.subarray(i * C.cols, (i + 1) * C.cols)));
}
