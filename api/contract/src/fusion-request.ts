/**
 * What clients send to create a fusion: the fusion spec, except that each
 * model may be named through its lineage (`{name, version}` or
 * `{name, version: "latest"}`) instead of by file id. The API resolves the
 * references when it creates the job, so the job's stored spec (and what a
 * runner sees) only ever holds file ids.
 */
import { z } from 'zod';
import { FileId } from './ids.ts';
import { ModelRef } from './lineages.ts';
import { FusionSpec } from './spec.ts';

export const ModelInput = z.union([FileId, ModelRef]);
export type ModelInput = z.infer<typeof ModelInput>;

export const FusionRequest = FusionSpec.extend({
  /** Model file ids or lineage references, two or more. */
  models: z.array(ModelInput).min(2),
});
export type FusionRequest = z.infer<typeof FusionRequest>;
