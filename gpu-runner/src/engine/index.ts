/**
 * The fusion engine's public surface: architectures, CLA, balancing,
 * optimal transport, OTFusion, forward/train/evaluate. Pure: no files, no
 * environment, no clock.
 */
export * from '@clafusion/model-format/arch';
export * from '@clafusion/model-format/errors';
export * from '@clafusion/model-format/tensor';
export { Rng } from './rng.ts';
export { alignLayers, chainMapping, randomMapping, validateMapping, mappingCost, type AlignOptions } from './cla/dynamic-program.ts';
export { centeredGram, linearCka } from './cla/cka.ts';
export { ckaCost, indexCost, layerIndexCost, neuronCountCost, wassersteinCost, type LayerActivations, type LayerCostKind } from './cla/layer-cost.ts';
export { addLayers, addLayersPlan } from './balance/add-layers.ts';
export { mergeLayers, reluApproximation, type MergeEstimator } from './balance/merge-layers.ts';
export { groundMetric, MLP_GROUND_METRIC, CNN_GROUND_METRIC, type GroundMetricOptions } from './fusion/ground-metric.ts';
export { otFusion, type FusionLayer, type OtFusionOptions, type LayerFusionResult } from './fusion/otfusion.ts';
export { fusePair, type PairFusionResult } from './fusion/fuse-pair.ts';
export { fuseMany, type ManyFusionResult } from './fusion/fuse-many.ts';
export { defaultFusionOptions, type FusionOptions, type MappingChoice, type FusionMethod } from './fusion/options.ts';
export type { FusionHooks, FusionStage } from './fusion/hooks.ts';
export * from './nn/index.ts';
export * as ot from './ot/index.ts';
