/**
 * The fusion job spec: the CLI's `clafusion fuse` options as typed JSON.
 * Every option is optional and defaults to the paper's configuration for the
 * models' family, exactly as the CLI does, so the same options give the same
 * fused weights through either. Engine options sit in the `fusion` section;
 * later stages (finetuning, distillation) get sections of their own beside it.
 *
 * The engine options (the `fusion` section, `calibration.samples` and `seed`)
 * are built from the options declaration (options.ts), which names each
 * one's CLI flag and field: --samples → calibration.samples, --layer-cost →
 * fusion.layer_cost, --mapping → fusion.mapping, and so on.
 *
 * The `finetune` and `distill` sections are built the same way from the
 * training options declaration (training-options.ts):
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
import { FUSION_OPTIONS, FUSION_OPTION_NAMES, type FusionOptionName, type OptionDeclaration, type OptionType } from './options.ts';
import {
  TRAINING_OPTIONS,
  type TRAINING_PRESETS,
  type TrainingOptionDeclaration,
  type TrainingOptionName,
  type TrainingOptionType,
  type TrainingSection,
  trainingOptionsOf,
} from './training-options.ts';
import { WebhookSpec } from './webhooks.ts';

/**
 * The zod schema of the value kinds both option declarations share (choice,
 * on/off, integer, number, with their ranges); null for a kind of its own.
 */
function sharedKindSchema(type: OptionType | TrainingOptionType): z.ZodType | null {
  switch (type.kind) {
    case 'choice':
      return z.enum(type.values as unknown as [string, ...string[]]);
    case 'on-off':
      return z.boolean();
    case 'integer': {
      let s = z.int();
      if (type.min !== undefined) s = type.min === 1 ? s.positive() : s.min(type.min);
      if ('max' in type && type.max !== undefined) s = s.max(type.max);
      return s;
    }
    case 'number': {
      let s = z.number();
      if ('above' in type && type.above !== undefined) s = type.above === 0 ? s.positive() : s.gt(type.above);
      if (type.min !== undefined) s = s.min(type.min);
      if (type.max !== undefined) s = s.max(type.max);
      return s;
    }
    default:
      return null;
  }
}

/** The zod schema of one declared option's value (options.ts), with its range. */
function optionSchema(name: FusionOptionName): z.ZodType {
  const type: OptionType = FUSION_OPTIONS[name].type;
  switch (type.kind) {
    case 'weights':
      return z.array(z.number().positive());
    case 'mapping':
      throw new Error(`${name}: the mapping is a union, built by unionSpec`);
    default:
      return sharedKindSchema(type)!;
  }
}

/** The declared options whose API field sits directly in the object at `parent` (dot path), optional each. */
function fieldsAt(parent: string, variant?: { option: string; is: string }): Record<string, z.ZodType> {
  const fields: Record<string, z.ZodType> = {};
  for (const name of FUSION_OPTION_NAMES) {
    const decl: OptionDeclaration = FUSION_OPTIONS[name];
    const path = decl.api.split('.');
    const key = path.pop()!;
    if (path.join('.') !== parent || key === 'kind') continue;
    if (decl.when?.option !== variant?.option || decl.when?.is !== variant?.is) continue;
    fields[key] = optionSchema(name).optional();
  }
  return fields;
}

/**
 * An object whose `kind` is a declared option: one variant per value, each
 * holding the options declared `when` that value. The mapping's `explicit`
 * variant carries the 1-based `layers` of the deeper model (1,2,5 on the CLI).
 */
function unionSpec(parent: string) {
  const name = FUSION_OPTION_NAMES.find((n) => FUSION_OPTIONS[n].api === `${parent}.kind`)!;
  const type: OptionType = FUSION_OPTIONS[name].type;
  const kinds = type.kind === 'choice' ? [...type.values] : ['cla', 'chain', 'random'];
  const variants = kinds.map((kind) => z.strictObject({ kind: z.literal(kind), ...fieldsAt(parent, { option: name, is: kind }) }));
  if (type.kind === 'mapping') variants.push(z.strictObject({ kind: z.literal('explicit'), layers: z.array(z.int().positive()).min(1) }) as never);
  return z.discriminatedUnion('kind', variants as [(typeof variants)[number], ...(typeof variants)[number][]]);
}

/** The schemas below are built from the declaration; their static types are the spelled-out shape (FusionOptionsSpecShape), which test/sdk-types.test.ts checks against the generated, runtime-derived types. */
export const MappingSpec = unionSpec('fusion.mapping') as unknown as z.ZodType<NonNullable<FusionOptionsSpecShape['mapping']>>;

export const GroundMetricSpec = z.strictObject(fieldsAt('fusion.ground_metric')) as unknown as z.ZodType<NonNullable<FusionOptionsSpecShape['ground_metric']>>;

export const SolverSpec = unionSpec('fusion.solver') as unknown as z.ZodType<NonNullable<FusionOptionsSpecShape['solver']>>;

/** The engine options of a job, each optional (default: the family's, options.ts), derived from the declaration. */
export const FusionOptionsSpec = z.strictObject({
  ...fieldsAt('fusion'),
  mapping: MappingSpec.optional(),
  ground_metric: GroundMetricSpec.optional(),
  solver: SolverSpec.optional(),
}) as unknown as z.ZodType<FusionOptionsSpecShape, FusionOptionsSpecShape>;

/** The `fusion` section's type, spelled out for clients (the schema above is built from the declaration). */
export interface FusionOptionsSpecShape {
  method?: 'ot-activations' | 'ot-weights' | 'average';
  layer_cost?: 'cka' | 'neurons' | 'wasserstein' | 'index';
  mapping?: { kind: 'cla'; first_constraint?: boolean; last_constraint?: boolean } | { kind: 'chain' } | { kind: 'random' } | { kind: 'explicit'; layers: number[] };
  balance?: 'add' | 'merge';
  merge_estimator?: 'sum' | 'majority' | 'average';
  /** One weight per input model, in order (normalised to sum to 1). */
  weights?: number[];
  output_layer?: 'align' | 'average';
  ground_metric?: { metric?: 'euclidean' | 'cosine'; squared?: boolean; efficient?: boolean; normalize?: 'none' | 'log' | 'max' | 'median' | 'mean' };
  solver?: { kind: 'exact' } | { kind: 'sinkhorn'; reg?: number };
  correction?: boolean;
  past_correction?: boolean;
  activations?: 'pre' | 'post';
  /** For 3+ models: 1-based index of the anchor model (default: the deepest). */
  anchor?: number;
  handle_skips?: boolean;
  bn_reestimate?: boolean;
  repair?: boolean;
}
export type FusionOptionsSpec = z.infer<typeof FusionOptionsSpec>;

/** The zod schema of one declared training option's value (training-options.ts), with its range. */
function trainingOptionSchema(name: TrainingOptionName): z.ZodType {
  const type: TrainingOptionType = TRAINING_OPTIONS[name].type;
  switch (type.kind) {
    case 'fill':
      return z.union([z.number(), z.array(z.number()).min(1)]);
    case 'dataset':
      return z.strictObject({ file: FileId });
    default:
      return sharedKindSchema(type)!;
  }
}

/** A training section's object: its declared options in declaration order, required or optional as declared. */
function trainingSectionSpec(section: TrainingSection) {
  const fields: Record<string, z.ZodType> = {};
  for (const name of trainingOptionsOf(section)) {
    const decl: TrainingOptionDeclaration = TRAINING_OPTIONS[name];
    // The epochs are the section's own value (`fuse --finetune EPOCHS`), so required as the others declared so.
    const required = decl.required !== undefined || decl.flag === 'section';
    fields[decl.api] = required ? trainingOptionSchema(name) : trainingOptionSchema(name).optional();
  }
  return z.strictObject(fields);
}

/**
 * Finetuning of the fused model right after fusion (§10.1), as `fuse
 * --finetune`; built from the declaration (training-options.ts). Unset
 * hyperparameters come from the preset (default: the family's finetune
 * preset); shuffling and augmentation use `seed`. The job's fused output is
 * then the kept (best-evaluated) epoch. `epochs` is at most
 * LIMITS.maxFinetuneEpochs (0 keeps the fused model); `train` is a labelled
 * dataset file (`x` and `y`); `augment_fill` defaults to 0: uploaded
 * datasets are used as given, as the CLI uses files without --normalize, so
 * a zero pixel is 0.
 */
export const FinetuneSpec = trainingSectionSpec('finetune') as unknown as z.ZodType<FinetuneSpecShape, FinetuneSpecShape>;

/** The `finetune` section's type, spelled out for clients (the schema above is built from the declaration). */
export interface FinetuneSpecShape {
  /** Epochs to train (at most LIMITS.maxFinetuneEpochs; 0 keeps the fused model). */
  epochs: number;
  /** Labelled dataset file (`x` and `y`) to train on. */
  train: { file: string };
  preset?: (typeof TRAINING_PRESETS)[number];
  lr?: number;
  momentum?: number;
  weight_decay?: number;
  batch_size?: number;
  /** Random crop (padding 4) and horizontal flip of image batches. */
  augment?: boolean;
  /** Padded pixel value, one for all channels or one per channel (default 0). */
  augment_fill?: number | number[];
  /** 'fused' (default) or 'all': also the inputs and depth-aligned models, reported in report.json. */
  models?: 'fused' | 'all';
}
export type FinetuneSpec = z.infer<typeof FinetuneSpec>;

/**
 * Knowledge distillation into the fused model right after fusion (§10.2), as
 * `fuse --distill`: the fused model is the student, the input models the
 * teachers; built from the declaration (training-options.ts). Unset
 * hyperparameters come from the preset (default: the family's distillation
 * preset); shuffling and augmentation use `seed`. The job's fused output is
 * then the kept checkpoint (the best of the student before distillation and
 * after every epoch, with an evaluation set). `epochs` is at most
 * LIMITS.maxDistillEpochs.
 */
export const DistillSpec = trainingSectionSpec('distill') as unknown as z.ZodType<DistillSpecShape, DistillSpecShape>;

/** The `distill` section's type, spelled out for clients (the schema above is built from the declaration). */
export interface DistillSpecShape {
  /** Epochs to train (at most LIMITS.maxDistillEpochs; 0 keeps the fused model). */
  epochs: number;
  /** Labelled dataset file (`x` and `y`) to train on. */
  train: { file: string };
  /** Weight of the distillation term in the loss α·T²·KL + (1 − α)·CE (the paper's γ), in [0, 1]. */
  alpha: number;
  /** Softmax temperature of the distillation term (> 0). */
  temperature: number;
  /** 'inputs' (default): every input model teaches, their mean logit the target; 'deeper': only the deepest input. */
  teachers?: 'inputs' | 'deeper';
  preset?: (typeof TRAINING_PRESETS)[number];
  lr?: number;
  momentum?: number;
  weight_decay?: number;
  batch_size?: number;
  /** Random crop (padding 4) and horizontal flip of image batches. */
  augment?: boolean;
  /** Padded pixel value, one for all channels or one per channel (default 0, as for finetune). */
  augment_fill?: number | number[];
}
export type DistillSpec = z.infer<typeof DistillSpec>;

export const FusionSpec = z.strictObject({
  /** Model file ids (purpose `model`, completed), two or more. */
  models: z.array(FileId).min(2),
  calibration: z.strictObject({
    /** Dataset file with tensor `x`. */
    file: FileId,
    /** Rows of `x` to record (default 200, or all if fewer). */
    samples: optionSchema('samples').optional() as z.ZodOptional<z.ZodInt>,
  }),
  /** Labelled dataset (`x` and `y`) for the accuracy report. */
  evaluation: z.strictObject({ file: FileId }).optional(),
  fusion: FusionOptionsSpec.optional(),
  /** Finetune the fused model after fusion; see FinetuneSpec. */
  finetune: FinetuneSpec.optional(),
  /** Distil the input models into the fused model after fusion; see DistillSpec. Not with `finetune` (invalid_request). */
  distill: DistillSpec.optional(),
  /** Seed for every random choice (default 0). */
  seed: optionSchema('seed').optional() as z.ZodOptional<z.ZodInt>,
  /**
   * Model formats to write (default ["safetensors"]): "safetensors" →
   * fused.safetensors, "pt" → fused.pt (a torch.load-able state dict),
   * "onnx" → fused.onnx (opset 13). fused.safetensors is written in any
   * case: lineage versions and scheduled fusions are made from it.
   */
  outputs: z.array(z.enum(['safetensors', 'pt', 'onnx'])).min(1).optional(),
  /** Call this URL back on the job's events (contract/webhooks.ts). */
  webhook: WebhookSpec.optional(),
});
export type FusionSpec = z.infer<typeof FusionSpec>;
