/** Neural-network execution for the engine: forward passes with taps, initialisation, training, evaluation. */
export { type InputLayout, type LabeledData, argmaxRows, checkLabels, inputLayout } from './data.ts';
export { type ApplyOptions, type FamilyNet, type NetOutput, type RunningStatUpdate, familyNet } from './families.ts';
export { type BnIndices, type LayerParams, convOutSize, layerParams, runningStatIndices, tapShapes } from './layers.ts';
export { BN_EPS, BN_MOMENTUM } from './batchnorm.ts';
export {
  DEFAULT_BATCH_SIZE,
  type ForwardOptions,
  type ForwardResult,
  forward,
  forwardWith,
  modelOutput,
} from './forward.ts';
export { defaultInitBound, initModel } from './init.ts';
export { linear } from './linear.ts';
export { downloadParams, uploadParams } from './params.ts';
export { type LrSchedule, constantLr, multiStepLr } from './schedule.ts';
export { Sgd, type SgdOptions } from './sgd.ts';
export { type EpochMetrics, type TeacherOptions, type TrainOptions, type TrainProgress, type TrainResult, train } from './train.ts';
export { type AugmentOptions, augmentBatch, cifarAugment, imageGeometry, normalizedZero } from './augment.ts';
export { type DistillOptions, checkDistillOptions, distillationLoss } from './distill-loss.ts';
export { PRESETS, type PresetName, type TrainingPreset, defaultPreset, isPresetName } from './presets.ts';
export { type EnsembleResult, type EvalOptions, accuracy, predictionEnsemble } from './evaluate.ts';
