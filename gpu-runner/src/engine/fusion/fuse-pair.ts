/**
 * CLAFusion of two models (docs/algorithm.md §0.1, §6, §7): order the pair so the
 * deeper model comes first, align and balance their depths if they differ,
 * then fuse layer by layer. The fused model has N1's architecture and neuron
 * order: A's depth with B's widths for `add`, B's architecture for `merge`.
 */
import { type Model, archEquals, layerCount } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { type AlignmentGroup, alignDepths } from './align-depths.ts';
import { depthAlignedTaps } from './depth-aligned-taps.ts';
import type { FusionHooks } from './hooks.ts';
import { fusedModel, fusionLayers, modelFromLayers, neuronRows } from './model-layers.ts';
import type { FusionOptions } from './options.ts';
import { type BnVectors, type LayerFusionResult, average, otFusion } from './otfusion.ts';
import { normalizeWeights } from './weights.ts';

export interface LayerSummary {
  name: string;
  /** Transport plan shape (N0 neurons × N1 neurons), or null when not transported. */
  plan: [number, number] | null;
  cost: number | null;
  /**
   * 0-based layers whose maps aligned this layer's inputs (averaged when
   * two): the previous layer, or with skip handling the block input's map
   * for a shortcut and two maps after it (§7.3). Absent in older reports.
   */
  inputFrom?: number[];
}

export interface PairFusionResult {
  fused: Model;
  /** Input indices of the deeper (A / model 0) and shallower (B / model 1) model. */
  deeper: number;
  shallower: number;
  /** Input indices whose (balanced) versions are N0 and N1 of the OT step. */
  n0: number;
  n1: number;
  /** Weight of N1 in the average (`ensemble_step`). */
  weightN1: number;
  alignment: AlignmentGroup[];
  mapping: number[] | null;
  depthAligned: { input: number; method: 'add' | 'merge'; model: Model } | null;
  layers: LayerSummary[];
  /**
   * The balanced pair and the per-layer OT results (corrected maps T̃), for
   * post-processing that needs the parents' statistics in N1's basis
   * (REPAIR). Empty results for plain averaging.
   */
  balanced: { n0: Model; n1: Model; results: LayerFusionResult[] };
}

export async function fusePair(models: readonly [Model, Model], options: FusionOptions, hooks: FusionHooks): Promise<PairFusionResult> {
  const samples = hooks.rows;
  const weights = normalizeWeights(options.weights, 2);
  // The official code swaps the pair when the first has fewer weight tensors.
  const swap = layerCount(models[0].arch) < layerCount(models[1].arch);
  const deeper = swap ? 1 : 0;
  const shallower = 1 - deeper;
  const A = models[deeper];
  const B = models[shallower];

  let n0Model = A;
  let n1Model = B;
  let alignment: AlignmentGroup[] = [];
  let mapping: number[] | null = null;
  let depthAligned: PairFusionResult['depthAligned'] = null;
  const n0 = deeper;
  const n1 = shallower;
  if (layerCount(A.arch) !== layerCount(B.arch)) {
    const aligned = await alignDepths(A, B, options, hooks);
    n0Model = aligned.n0;
    n1Model = aligned.n1;
    alignment = aligned.groups;
    mapping = aligned.mapping;
    const from = aligned.depthAligned.from === 'deeper' ? deeper : shallower;
    depthAligned = { input: from, method: aligned.depthAligned.method, model: aligned.depthAligned.model };
  }
  const weightN1 = weights[n1];

  let results: LayerFusionResult[];
  let fused: Model;
  if (options.fusion === 'average') {
    hooks.stage?.('fusion', 'start');
    if (!archEquals(n0Model.arch, n1Model.arch)) {
      throw new FusionError(
        'INCOMPATIBLE_MODELS',
        'plain weight averaging needs models of identical architecture after balancing; use fusion=ot-activations or ot-weights',
      );
    }
    const l1 = fusionLayers(n1Model);
    fused = modelFromLayers(
      n1Model,
      fusionLayers(n0Model).map((layer, l) => ({
        weight: average(layer.weight.data, l1[l].weight.data, weightN1),
        bias: layer.bias ? average(layer.bias.data, l1[l].bias!.data, weightN1) : undefined,
        bn: layer.bn?.map((v, k) => average(v.data, l1[l].bn![k].data, weightN1)) as BnVectors<Float32Array> | undefined,
      })),
    );
    results = [];
    hooks.stage?.('fusion', 'end');
  } else {
    let acts0;
    let acts1;
    if (options.fusion === 'ot-activations') {
      hooks.stage?.('activations', 'start');
      acts0 = neuronRows(await hooks.record(n0Model, 'N0'), samples);
      // B′'s taps come from B's when B′ was built by adding layers (depth-aligned-taps.ts).
      const n1Taps = depthAligned?.method === 'add' ? depthAlignedTaps(B, n1Model, mapping!, samples, hooks) : hooks.record(n1Model, 'N1');
      acts1 = neuronRows(await n1Taps, samples);
      // From here the taps live only in acts0/acts1, which OT lets go of layer by layer.
      for (const model of new Set([n0Model, n1Model, B])) hooks.release?.(model);
      hooks.stage?.('activations', 'end');
    }
    hooks.stage?.('fusion', 'start');
    results = otFusion(
      {
        layers0: fusionLayers(n0Model),
        layers1: fusionLayers(n1Model),
        acts0,
        acts1,
        onLayer: (l, L, name) => hooks.progress?.('fusion', (l + 1) / L, name),
        releaseActivations: true,
      },
      {
        alignment: options.fusion === 'ot-activations' ? 'activations' : 'weights',
        groundMetric: options.groundMetric,
        solver: options.solver,
        correction: options.correction,
        pastCorrection: options.pastCorrection,
        weightN1,
        outputLayer: options.outputLayer,
        handleSkips: options.handleSkips,
        samples,
      },
    );
    fused = fusedModel(n1Model, results);
    hooks.stage?.('fusion', 'end');
  }

  return {
    fused,
    deeper,
    shallower,
    n0,
    n1,
    weightN1,
    alignment,
    mapping,
    depthAligned,
    layers: results.map((r) => ({ name: r.name, plan: r.transport ? [r.rows, r.cols] : null, cost: r.cost, inputFrom: r.inputFrom })),
    balanced: { n0: n0Model, n1: n1Model, results },
  };
}
