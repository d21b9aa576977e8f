/**
 * The fusion job spec: the CLI's `clafusion fuse` options as typed JSON.
 * Every option is optional and defaults to the paper's configuration for the
 * models' family, exactly as the CLI does, so the same options give the same
 * fused weights through either. Engine options sit in the `fusion` section;
 * later stages (finetuning, distillation) get sections of their own beside it.
 *
 * CLI flag → field: --samples → calibration.samples, --layer-cost →
 * fusion.layer_cost, --first/last-constraint → fusion.mapping.first/last_constraint,
 * --mapping → fusion.mapping, --balance, --merge-estimator, --fusion →
 * fusion.method, --weights, --output-layer, --anchor, --activations,
 * --ground-metric/--squared/--ground-metric-normalize/--efficient-metric →
 * fusion.ground_metric, --solver/--sinkhorn-reg → fusion.solver, --correction,
 * --past-correction, --handle-skips → fusion.handle_skips, --bn-reestimate →
 * fusion.bn_reestimate, --repair → fusion.repair, --seed → seed.
 *
 * `fuse --finetune EPOCHS --train DATA` → finetune.epochs and finetune.train;
 * --finetune-preset → finetune.preset, --lr, --momentum, --weight-decay,
 * --batch → finetune.batch_size, --augment, --augment-fill,
 * --finetune-models → finetune.models.
 *
 * `fuse --distill EPOCHS --train DATA --alpha A --temperature T` →
 * distill.epochs, distill.train, distill.alpha and distill.temperature;
 * --distill-teachers → distill.teachers, --distill-preset → distill.preset,
 * and the same hyperparameter flags as for finetuning. A spec has at most
 * one of `finetune` and `distill`, as the flags exclude each other.
 */
import { z } from 'zod';
import { FileId } from './ids.ts';
import { WebhookSpec } from './webhooks.ts';

export const MappingSpec = z.discriminatedUnion('kind', [
  z.strictObject({
    /** The CLA dynamic program (default). */
    kind: z.literal('cla'),
    first_constraint: z.boolean().optional(),
    last_constraint: z.boolean().optional(),
  }),
  z.strictObject({ kind: z.literal('chain') }),
  z.strictObject({ kind: z.literal('random') }),
  /** Explicit 1-based indices of the deeper model's hidden layers, like 1,2,5 on the CLI. */
  z.strictObject({ kind: z.literal('explicit'), layers: z.array(z.int().positive()).min(1) }),
]);

export const GroundMetricSpec = z.strictObject({
  metric: z.enum(['euclidean', 'cosine']).optional(),
  squared: z.boolean().optional(),
  efficient: z.boolean().optional(),
  normalize: z.enum(['none', 'log', 'max', 'median', 'mean']).optional(),
});

export const SolverSpec = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('exact') }),
  z.strictObject({ kind: z.literal('sinkhorn'), reg: z.number().min(1e-9).optional() }),
]);

export const FusionOptionsSpec = z.strictObject({
  method: z.enum(['ot-activations', 'ot-weights', 'average']).optional(),
  layer_cost: z.enum(['cka', 'neurons', 'wasserstein', 'index']).optional(),
  mapping: MappingSpec.optional(),
  balance: z.enum(['add', 'merge']).optional(),
  merge_estimator: z.enum(['sum', 'majority', 'average']).optional(),
  /** One weight per input model, in order (normalised to sum to 1). */
  weights: z.array(z.number().positive()).optional(),
  output_layer: z.enum(['align', 'average']).optional(),
  ground_metric: GroundMetricSpec.optional(),
  solver: SolverSpec.optional(),
  correction: z.boolean().optional(),
  past_correction: z.boolean().optional(),
  activations: z.enum(['pre', 'post']).optional(),
  /** For 3+ models: 1-based index of the anchor model (default: the deepest). */
  anchor: z.int().positive().optional(),
  /** ResNets: shortcut convs reuse the block input's map (default on for ResNets). */
  handle_skips: z.boolean().optional(),
  /** Models with BatchNorm: re-estimate the fused running statistics on the calibration data (default on). */
  bn_reestimate: z.boolean().optional(),
  /** REPAIR: match each fused channel's mean/std to the interpolated parents' (two models with bias or BatchNorm; default off). */
  repair: z.boolean().optional(),
});
export type FusionOptionsSpec = z.infer<typeof FusionOptionsSpec>;

/**
 * The hyperparameter presets of engine/nn/presets.ts (the paper's Tables
 * 6–8). Listed here because the contract does not import the engine;
 * spec-options.test.ts checks that the two lists agree.
 */
export const TRAINING_PRESETS = [
  'mlp-mnist',
  'vgg-cifar',
  'resnet-cifar',
  'finetune-resnet-cifar',
  'finetune-vgg-cifar',
  'finetune-resnet-tinyimagenet',
  'finetune-mlp-mnist',
  'distill-vgg-cifar',
  'distill-resnet-cifar',
] as const;

/**
 * Finetuning of the fused model right after fusion (§10.1), as `fuse
 * --finetune`. Unset hyperparameters come from the preset (default: the
 * family's finetune preset); shuffling and augmentation use `seed`. The job's
 * fused output is then the kept (best-evaluated) epoch.
 */
export const FinetuneSpec = z.strictObject({
  /** Epochs to train (at most LIMITS.maxFinetuneEpochs; 0 keeps the fused model). */
  epochs: z.int().min(0),
  /** Labelled dataset file (`x` and `y`) to train on. */
  train: z.strictObject({ file: FileId }),
  preset: z.enum(TRAINING_PRESETS).optional(),
  lr: z.number().min(0).optional(),
  momentum: z.number().min(0).optional(),
  weight_decay: z.number().min(0).optional(),
  batch_size: z.int().positive().optional(),
  /** Random crop (padding 4) and horizontal flip of image batches. */
  augment: z.boolean().optional(),
  /**
   * Padded pixel value, one for all channels or one per channel. Default 0:
   * uploaded datasets are used as given, as the CLI uses files without
   * --normalize, so a zero pixel is 0.
   */
  augment_fill: z.union([z.number(), z.array(z.number()).min(1)]).optional(),
  /** 'fused' (default) or 'all': also the inputs and depth-aligned models, reported in report.json. */
  models: z.enum(['fused', 'all']).optional(),
});
export type FinetuneSpec = z.infer<typeof FinetuneSpec>;

/**
 * Knowledge distillation into the fused model right after fusion (§10.2), as
 * `fuse --distill`: the fused model is the student, the input models the
 * teachers. Unset hyperparameters come from the preset (default: the
 * family's distillation preset); shuffling and augmentation use `seed`. The
 * job's fused output is then the kept checkpoint (the best of the student
 * before distillation and after every epoch, with an evaluation set).
 */
export const DistillSpec = z.strictObject({
  /** Epochs to train (at most LIMITS.maxDistillEpochs; 0 keeps the fused model). */
  epochs: z.int().min(0),
  /** Labelled dataset file (`x` and `y`) to train on. */
  train: z.strictObject({ file: FileId }),
  /** Weight of the distillation term in the loss α·T²·KL + (1 − α)·CE (the paper's γ). */
  alpha: z.number().min(0).max(1),
  /** Softmax temperature of the distillation term. */
  temperature: z.number().positive(),
  /** 'inputs' (default): every input model teaches, their mean logit the target; 'deeper': only the deepest input. */
  teachers: z.enum(['inputs', 'deeper']).optional(),
  preset: z.enum(TRAINING_PRESETS).optional(),
  lr: z.number().min(0).optional(),
  momentum: z.number().min(0).optional(),
  weight_decay: z.number().min(0).optional(),
  batch_size: z.int().positive().optional(),
  /** Random crop (padding 4) and horizontal flip of image batches. */
  augment: z.boolean().optional(),
  /** Padded pixel value, one for all channels or one per channel (default 0, as for finetune). */
  augment_fill: z.union([z.number(), z.array(z.number()).min(1)]).optional(),
});
export type DistillSpec = z.infer<typeof DistillSpec>;

export const FusionSpec = z.strictObject({
  /** Model file ids (purpose `model`, completed), two or more. */
  models: z.array(FileId).min(2),
  calibration: z.strictObject({
    /** Dataset file with tensor `x`. */
    file: FileId,
    /** Rows of `x` to record (default 200, or all if fewer). */
    samples: z.int().positive().optional(),
  }),
  /** Labelled dataset (`x` and `y`) for the accuracy report. */
  evaluation: z.strictObject({ file: FileId }).optional(),
  fusion: FusionOptionsSpec.optional(),
  /** Finetune the fused model after fusion; see FinetuneSpec. */
  finetune: FinetuneSpec.optional(),
  /** Distil the input models into the fused model after fusion; see DistillSpec. Not with `finetune` (invalid_request). */
  distill: DistillSpec.optional(),
  /** Seed for every random choice (default 0). */
  seed: z.int().min(0).max(2 ** 31 - 1).optional(),
  /** Call this URL back on the job's events (contract/webhooks.ts). */
  webhook: WebhookSpec.optional(),
});
export type FusionSpec = z.infer<typeof FusionSpec>;
