/**
 * Every option of a fusion, resolved. Defaults are the paper's configuration
 * for the family (algorithm.md §0.2): for MLPs the `fuse_mlp_ablation_studies.sh`
 * flags (neuron-count layer cost, direct Euclidean ground metric).
 */
import type { Family } from '@clafusion/model-format/arch';
import type { MergeEstimator } from '../balance/merge-layers.ts';
import type { LayerCostKind } from '../cla/layer-cost.ts';
import { CNN_GROUND_METRIC, type GroundMetricOptions, MLP_GROUND_METRIC } from './ground-metric.ts';
import type { OtSolver } from './transport.ts';

export type MappingChoice =
  | { kind: 'cla'; firstConstraint: boolean; lastConstraint: boolean }
  | { kind: 'chain' }
  | { kind: 'random' }
  | { kind: 'explicit'; mapping: number[] };

export type FusionMethod = 'ot-activations' | 'ot-weights' | 'average';

export interface FusionOptions {
  layerCost: LayerCostKind;
  mapping: MappingChoice;
  balance: 'add' | 'merge';
  mergeEstimator: MergeEstimator;
  fusion: FusionMethod;
  /** Per input model, in the order given; normalised to sum to 1. */
  weights: number[] | null;
  outputLayer: 'align' | 'average';
  groundMetric: GroundMetricOptions;
  solver: OtSolver;
  correction: boolean;
  pastCorrection: boolean;
  /** Record pre-ReLU values (`--prelu-acts`, the paper) or post-ReLU. */
  activations: 'pre' | 'post';
  /** Index of the anchor model for K-model fusion; null = the deepest (first of equals). */
  anchor: number | null;
  seed: number;
  /** Shortcut-aware reuse of transport maps (§7.3, `--handle-skips`); on for ResNets. */
  handleSkips: boolean;
  /**
   * Re-estimate the fused model's BatchNorm running statistics on the
   * calibration samples (models with BatchNorm only; the averaged running
   * statistics describe neither parent's activations).
   */
  bnReestimate: boolean;
  /**
   * REPAIR-style renormalisation: rescale every fused channel so its
   * pre-activation mean and standard deviation are the interpolation of the
   * parents' (aligned) statistics. Needs biases or BatchNorm to shift means.
   */
  repair: boolean;
}

export function defaultFusionOptions(family: Family): FusionOptions {
  const isMlp = family === 'mlp';
  return {
    layerCost: isMlp ? 'neurons' : 'cka',
    mapping: { kind: 'cla', firstConstraint: true, lastConstraint: true },
    balance: 'add',
    mergeEstimator: 'sum',
    fusion: 'ot-activations',
    weights: null,
    outputLayer: 'align',
    groundMetric: isMlp ? { ...MLP_GROUND_METRIC } : { ...CNN_GROUND_METRIC },
    solver: { kind: 'exact' },
    correction: true,
    pastCorrection: true,
    activations: 'pre',
    anchor: null,
    seed: 0,
    handleSkips: family === 'resnet',
    bnReestimate: true,
    repair: false,
  };
}
