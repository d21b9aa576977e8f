/** Job-level orchestration shared by the CLI and the runner. */
export { runFusion, resolveSamples, DEFAULT_SAMPLES, type FusionRequest, type FusionOutcome, type ProgressEvent, type RunContext } from './run-fusion.ts';
export { type FusionReport, REPORT_STAGES } from './report.ts';
export { ENGINE_VERSION } from './version.ts';
export { type TrainingContext, type TrainingEvent, type TrainingOutcome, distillModel, finetuneModel, trainingReport } from './finetune.ts';
export { type FinetuneRequest, type FusionTrainingEvent, finetuneFusion } from './finetune-fusion.ts';
export { type DistillSpec, type TrainingSettings, type TrainingSpec, resolveTrainingSettings } from './training-settings.ts';
export { DISTILL_TEACHERS, type DistillRequest, type DistillTeachers, distillFusion } from './distill-fusion.ts';
