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
 * --past-correction, --seed → seed.
 */
import { z } from 'zod';
import { FileId } from './ids.ts';

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
});
export type FusionOptionsSpec = z.infer<typeof FusionOptionsSpec>;

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
  /** Seed for every random choice (default 0). */
  seed: z.int().min(0).max(2 ** 31 - 1).optional(),
});
export type FusionSpec = z.infer<typeof FusionSpec>;
