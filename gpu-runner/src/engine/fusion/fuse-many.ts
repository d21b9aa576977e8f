/**
 * Fusing K models (docs/algorithm.md §8, the official `many-to-one` approach): the
 * deepest model is the anchor M_F; every other model is depth-aligned to it
 * (CLA + add) if needed, expressed in M_F's neuron basis by OT (`not_avg`),
 * and the K parameter lists are averaged with the fusion weights (1/K by
 * default). The anchor enters unaligned.
 */
import { type Model, archEquals, layerCount } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { type AlignmentGroup, alignDepths } from './align-depths.ts';
import { depthAlignedTaps } from './depth-aligned-taps.ts';
import type { FusionHooks } from './hooks.ts';
import { fusionLayers, modelFromLayers, neuronRows } from './model-layers.ts';
import type { FusionOptions } from './options.ts';
import { type BnVectors, otFusion } from './otfusion.ts';
import { normalizeWeights } from './weights.ts';
import type { LayerSummary } from './fuse-pair.ts';

export interface MemberResult {
  input: number;
  /** Mapping into the anchor's hidden layers, or null for a model of the anchor's depth. */
  mapping: number[] | null;
  alignment: AlignmentGroup[];
  depthAligned: Model | null;
  layers: LayerSummary[];
  /**
   * The member as averaged (depth-aligned if it was) and its per-layer maps
   * T̃ into the anchor's basis (empty for plain averaging), for REPAIR.
   */
  balanced: { model: Model; transports: (Float64Array | null)[] };
}

export interface ManyFusionResult {
  fused: Model;
  anchor: number;
  weights: number[];
  members: MemberResult[];
}

export function chooseAnchor(models: readonly Model[], requested: number | null): number {
  const depths = models.map((m) => layerCount(m.arch));
  const deepest = Math.max(...depths);
  if (requested === null) return depths.indexOf(deepest);
  if (!Number.isInteger(requested) || requested < 0 || requested >= models.length) {
    throw new FusionError('INVALID_ARGUMENT', `anchor ${requested + 1} is not one of the ${models.length} models`, { field: 'anchor' });
  }
  if (depths[requested] !== deepest) {
    throw new FusionError(
      'INVALID_ARGUMENT',
      `the anchor must be one of the deepest models (${deepest} layers); model ${requested + 1} has ${depths[requested]}`,
      { field: 'anchor' },
    );
  }
  return requested;
}

export async function fuseMany(models: readonly Model[], options: FusionOptions, hooks: FusionHooks): Promise<ManyFusionResult> {
  const samples = hooks.rows;
  if (models.length < 2) throw new FusionError('INVALID_ARGUMENT', 'fusion needs at least two models');
  if (options.balance !== 'add') {
    throw new FusionError('INVALID_ARGUMENT', 'fusing more than two models balances by adding layers; balance=merge needs exactly two models', {
      field: 'balance',
    });
  }
  const weights = normalizeWeights(options.weights, models.length);
  const anchor = chooseAnchor(models, options.anchor);
  const MF = models[anchor];
  const uniform = options.weights === null;

  let anchorActs;
  if (options.fusion === 'ot-activations') {
    hooks.stage?.('activations', 'start');
    anchorActs = neuronRows(await hooks.record(MF, 'anchor'), samples);
    hooks.stage?.('activations', 'end');
  }

  const anchorLayers = fusionLayers(MF);
  // Accumulate Σ_i w_i · Y^(i) in float64; the anchor contributes its own weights.
  const start = (t: { data: Float32Array }) => Float64Array.from(t.data, (v) => (uniform ? v : v * weights[anchor]));
  const sums = anchorLayers.map((l) => start(l.weight));
  const biasSums = anchorLayers.map((l) => (l.bias ? start(l.bias) : undefined));
  // BatchNorm vectors are summed like biases (running statistics included).
  const bnSums = anchorLayers.map((l) => l.bn?.map(start));
  const members: MemberResult[] = [];

  for (let i = 0; i < models.length; i++) {
    if (i === anchor) continue;
    let Mi = models[i];
    let mapping: number[] | null = null;
    let alignment: AlignmentGroup[] = [];
    let depthAligned: Model | null = null;
    if (layerCount(Mi.arch) !== layerCount(MF.arch)) {
      const aligned = await alignDepths(MF, Mi, options, hooks);
      Mi = aligned.n1;
      mapping = aligned.mapping;
      alignment = aligned.groups;
      depthAligned = Mi;
    }
    let layers: LayerSummary[] = [];
    let transports: (Float64Array | null)[] = [];
    let aligned: { weight: Float64Array; bias?: Float64Array; bn?: Float64Array[] }[];
    if (options.fusion === 'average') {
      if (!archEquals(Mi.arch, MF.arch)) {
        throw new FusionError('INCOMPATIBLE_MODELS', `plain averaging needs identical architectures; model ${i + 1} differs from the anchor`);
      }
      aligned = fusionLayers(Mi).map((l) => ({
        weight: Float64Array.from(l.weight.data),
        bias: l.bias ? Float64Array.from(l.bias.data) : undefined,
        bn: l.bn?.map((v) => Float64Array.from(v.data)),
      }));
    } else {
      let acts0;
      if (options.fusion === 'ot-activations') {
        hooks.stage?.('activations', 'start');
        const taps = mapping ? depthAlignedTaps(models[i], Mi, mapping, samples, hooks) : hooks.record(Mi, `model ${i + 1}`);
        acts0 = neuronRows(await taps, samples);
        hooks.stage?.('activations', 'end');
      }
      hooks.stage?.('fusion', 'start');
      const results = otFusion(
        { layers0: fusionLayers(Mi), layers1: anchorLayers, acts0, acts1: anchorActs, alignOnly: true },
        {
          alignment: options.fusion === 'ot-activations' ? 'activations' : 'weights',
          groundMetric: options.groundMetric,
          solver: options.solver,
          correction: options.correction,
          pastCorrection: options.pastCorrection,
          weightN1: 0.5,
          outputLayer: options.outputLayer,
          handleSkips: options.handleSkips,
          samples,
        },
      );
      hooks.stage?.('fusion', 'end');
      layers = results.map((r) => ({ name: r.name, plan: r.transport ? [r.rows, r.cols] : null, cost: r.cost, inputFrom: r.inputFrom }));
      aligned = results.map((r) => ({ weight: r.aligned, bias: r.alignedBias, bn: r.alignedBn }));
      transports = results.map((r) => r.transport);
    }
    aligned.forEach((a, l) => {
      const w = uniform ? 1 : weights[i];
      for (let k = 0; k < a.weight.length; k++) sums[l][k] += w * a.weight[k];
      const bs = biasSums[l];
      if (bs && a.bias) for (let k = 0; k < a.bias.length; k++) bs[k] += w * a.bias[k];
      bnSums[l]?.forEach((sum, v) => {
        const add = a.bn?.[v];
        if (!add) throw new FusionError('INCOMPATIBLE_MODELS', `layer ${anchorLayers[l].name}: model ${i + 1} has no BatchNorm where the anchor has one`);
        for (let k = 0; k < add.length; k++) sum[k] += w * add[k];
      });
    });
    members.push({ input: i, mapping, alignment, depthAligned, layers, balanced: { model: Mi, transports } });
    hooks.progress?.('fusion', members.length / (models.length - 1), `model ${i + 1} aligned to the anchor`);
  }

  hooks.stage?.('fusion', 'start');
  const K = models.length;
  // Uniform weights: the element-wise mean, computed as sum / K like the official code.
  const finalize = (s: Float64Array) => Float32Array.from(s, (v) => (uniform ? v / K : v));
  const fused = modelFromLayers(
    MF,
    sums.map((s, l) => ({
      weight: finalize(s),
      bias: biasSums[l] ? finalize(biasSums[l]) : undefined,
      bn: bnSums[l]?.map(finalize) as BnVectors<Float32Array> | undefined,
    })),
  );
  hooks.stage?.('fusion', 'end');
  return { fused, anchor, weights, members };
}
