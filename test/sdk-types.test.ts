/**
 * The SDK's generated types (sdk/src/generated, from sdk/scripts/generate-types.ts)
 * against the server: the committed files are what the generator produces
 * from today's contract and router (a stale file fails here: run
 * `npm run generate -w sdk`), and, as the type checker sees it (the
 * expectTypeOf lines fail `npm run typecheck`, i.e. `tsc --noEmit -p .`),
 * each generated type equals the contract's own `z.infer` type and the
 * generated router has the server AppRouter's procedure kinds, input and
 * output types and error shape.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { inferRouterError, inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { type AppRouter as ServerRouter, contract } from '../sdk/scripts/contract-source.ts';
import { GENERATED_DIR, generate } from '../sdk/scripts/generate-types.ts';
import type * as G from '../sdk/src/generated/contract.ts';
import type { AppRouter as GeneratedRouter } from '../sdk/src/generated/trpc-router.ts';

/** Each procedure's kind and its input and output types as the router declares them, by path. */
type Procedures<R> = {
  [K in keyof R]: R[K] extends { _def: { type: infer T; $types: { input: infer I; output: infer O } } } ? { type: T; input: I; output: O } : Procedures<R[K]>;
};
type RecordOf<R> = R extends { _def: { record: infer Rec } } ? Rec : never;
/** Type identity (the compiler's own check of two types being the same). */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
type Extends<A, B> = [A] extends [B] ? true : false;

/** The types checked below, one per generated contract type. */
const CHECKED = ['ApiErrorBody', 'ArchJson', 'CreateFileInput', 'CreateFileResult', 'CreateLinkInput', 'CreateScheduleInput', 'CreateWebhookEndpointInput', 'DatasetSummary', 'DeletedFile', 'DeletedFusion', 'DistillSpec', 'DownloadLink', 'ErrorEnvelope', 'EventId', 'FileId', 'FileObject', 'FilePurpose', 'FileStatus', 'FinetuneSpec', 'FusionId', 'FusionJob', 'FusionOptionsSpec', 'FusionRequest', 'FusionSpec', 'GroundMetricSpec', 'JobError', 'JobErrorCode', 'JobEvent', 'JobEventType', 'JobInputFile', 'JobMetrics', 'JobOutput', 'JobStage', 'JobStatus', 'Lineage', 'LineageName', 'LinkTarget', 'ListFilesInput', 'ListFusionsInput', 'MappingSpec', 'ModelInput', 'ModelRef', 'ModelSummary', 'ModelVersion', 'OutputName', 'RegisterVersionInput', 'RunId', 'RunModelInput', 'RunOutcome', 'RunnerSeen', 'Schedule', 'ScheduleId', 'ScheduleOutput', 'ScheduleRun', 'ScheduleStatus', 'ScheduleWithRuns', 'SignedLink', 'SolverSpec', 'TenantId', 'UpdateScheduleInput', 'UploadInstructions', 'VersionInfo', 'VersionNumber', 'VersionSource', 'WebhookAttempt', 'WebhookDelivery', 'WebhookEndpoint', 'WebhookEvent', 'WebhookEventType', 'WebhookSpec', 'WebhookUrl'];

describe('generated SDK types', () => {
  it('the committed files are what the generator makes from the contract and router today', () => {
    for (const [file, text] of Object.entries(generate())) {
      expect(readFileSync(join(GENERATED_DIR, file), 'utf8'), `sdk/src/generated/${file} is stale: run npm run generate -w sdk`).toBe(text);
    }
  });

  it('every contract schema has a generated type, and each is checked against z.infer', () => {
    const generated = [...generate()['contract.ts'].matchAll(/^export type (\w+)(?:<\w+>)? =/gm)].map((m) => m[1]);
    expect(generated.filter((n) => n !== 'ApiErrorCode' && n !== 'ListPage')).toEqual(CHECKED);
    const schemas = Object.entries(contract).filter(([, v]) => typeof v === 'object' && v !== null && '_zod' in v).map(([k]) => (k === 'ArchSchema' ? 'ArchJson' : k));
    expect(schemas.sort()).toEqual(CHECKED);
  });

  it('each generated type equals the contract type (compile-time)', () => {
    expectTypeOf<G.ApiErrorBody>().toEqualTypeOf<z.infer<typeof contract.ApiErrorBody>>();
    expectTypeOf<G.ArchJson>().toEqualTypeOf<z.infer<typeof contract.ArchSchema>>();
    expectTypeOf<G.CreateFileInput>().toEqualTypeOf<z.infer<typeof contract.CreateFileInput>>();
    expectTypeOf<G.CreateFileResult>().toEqualTypeOf<z.infer<typeof contract.CreateFileResult>>();
    expectTypeOf<G.CreateScheduleInput>().toEqualTypeOf<z.infer<typeof contract.CreateScheduleInput>>();
    expectTypeOf<G.DatasetSummary>().toEqualTypeOf<z.infer<typeof contract.DatasetSummary>>();
    expectTypeOf<G.DistillSpec>().toEqualTypeOf<z.infer<typeof contract.DistillSpec>>();
    expectTypeOf<G.DownloadLink>().toEqualTypeOf<z.infer<typeof contract.DownloadLink>>();
    expectTypeOf<G.ErrorEnvelope>().toEqualTypeOf<z.infer<typeof contract.ErrorEnvelope>>();
    expectTypeOf<G.EventId>().toEqualTypeOf<z.infer<typeof contract.EventId>>();
    expectTypeOf<G.FileId>().toEqualTypeOf<z.infer<typeof contract.FileId>>();
    expectTypeOf<G.FileObject>().toEqualTypeOf<z.infer<typeof contract.FileObject>>();
    expectTypeOf<G.FilePurpose>().toEqualTypeOf<z.infer<typeof contract.FilePurpose>>();
    expectTypeOf<G.FinetuneSpec>().toEqualTypeOf<z.infer<typeof contract.FinetuneSpec>>();
    expectTypeOf<G.FusionId>().toEqualTypeOf<z.infer<typeof contract.FusionId>>();
    expectTypeOf<G.FusionJob>().toEqualTypeOf<z.infer<typeof contract.FusionJob>>();
    expectTypeOf<G.FusionOptionsSpec>().toEqualTypeOf<z.infer<typeof contract.FusionOptionsSpec>>();
    expectTypeOf<G.FusionRequest>().toEqualTypeOf<z.infer<typeof contract.FusionRequest>>();
    expectTypeOf<G.FusionSpec>().toEqualTypeOf<z.infer<typeof contract.FusionSpec>>();
    expectTypeOf<G.GroundMetricSpec>().toEqualTypeOf<z.infer<typeof contract.GroundMetricSpec>>();
    expectTypeOf<G.JobError>().toEqualTypeOf<z.infer<typeof contract.JobError>>();
    expectTypeOf<G.JobErrorCode>().toEqualTypeOf<z.infer<typeof contract.JobErrorCode>>();
    expectTypeOf<G.JobEvent>().toEqualTypeOf<z.infer<typeof contract.JobEvent>>();
    expectTypeOf<G.JobEventType>().toEqualTypeOf<z.infer<typeof contract.JobEventType>>();
    expectTypeOf<G.JobInputFile>().toEqualTypeOf<z.infer<typeof contract.JobInputFile>>();
    expectTypeOf<G.JobMetrics>().toEqualTypeOf<z.infer<typeof contract.JobMetrics>>();
    expectTypeOf<G.JobOutput>().toEqualTypeOf<z.infer<typeof contract.JobOutput>>();
    expectTypeOf<G.JobStage>().toEqualTypeOf<z.infer<typeof contract.JobStage>>();
    expectTypeOf<G.JobStatus>().toEqualTypeOf<z.infer<typeof contract.JobStatus>>();
    expectTypeOf<G.Lineage>().toEqualTypeOf<z.infer<typeof contract.Lineage>>();
    expectTypeOf<G.LineageName>().toEqualTypeOf<z.infer<typeof contract.LineageName>>();
    expectTypeOf<G.MappingSpec>().toEqualTypeOf<z.infer<typeof contract.MappingSpec>>();
    expectTypeOf<G.ModelInput>().toEqualTypeOf<z.infer<typeof contract.ModelInput>>();
    expectTypeOf<G.ModelRef>().toEqualTypeOf<z.infer<typeof contract.ModelRef>>();
    expectTypeOf<G.ModelSummary>().toEqualTypeOf<z.infer<typeof contract.ModelSummary>>();
    expectTypeOf<G.ModelVersion>().toEqualTypeOf<z.infer<typeof contract.ModelVersion>>();
    expectTypeOf<G.OutputName>().toEqualTypeOf<z.infer<typeof contract.OutputName>>();
    expectTypeOf<G.RegisterVersionInput>().toEqualTypeOf<z.infer<typeof contract.RegisterVersionInput>>();
    expectTypeOf<G.RunId>().toEqualTypeOf<z.infer<typeof contract.RunId>>();
    expectTypeOf<G.RunModelInput>().toEqualTypeOf<z.infer<typeof contract.RunModelInput>>();
    expectTypeOf<G.RunOutcome>().toEqualTypeOf<z.infer<typeof contract.RunOutcome>>();
    expectTypeOf<G.Schedule>().toEqualTypeOf<z.infer<typeof contract.Schedule>>();
    expectTypeOf<G.ScheduleId>().toEqualTypeOf<z.infer<typeof contract.ScheduleId>>();
    expectTypeOf<G.ScheduleOutput>().toEqualTypeOf<z.infer<typeof contract.ScheduleOutput>>();
    expectTypeOf<G.ScheduleRun>().toEqualTypeOf<z.infer<typeof contract.ScheduleRun>>();
    expectTypeOf<G.ScheduleStatus>().toEqualTypeOf<z.infer<typeof contract.ScheduleStatus>>();
    expectTypeOf<G.SolverSpec>().toEqualTypeOf<z.infer<typeof contract.SolverSpec>>();
    expectTypeOf<G.TenantId>().toEqualTypeOf<z.infer<typeof contract.TenantId>>();
    expectTypeOf<G.UpdateScheduleInput>().toEqualTypeOf<z.infer<typeof contract.UpdateScheduleInput>>();
    expectTypeOf<G.UploadInstructions>().toEqualTypeOf<z.infer<typeof contract.UploadInstructions>>();
    expectTypeOf<G.VersionNumber>().toEqualTypeOf<z.infer<typeof contract.VersionNumber>>();
    expectTypeOf<G.VersionSource>().toEqualTypeOf<z.infer<typeof contract.VersionSource>>();
    // Request schemas (…Input) are what a client sends: their input side (defaults optional).
    expectTypeOf<G.CreateLinkInput>().toEqualTypeOf<z.input<typeof contract.CreateLinkInput>>();
    expectTypeOf<G.CreateWebhookEndpointInput>().toEqualTypeOf<z.input<typeof contract.CreateWebhookEndpointInput>>();
    expectTypeOf<G.DeletedFile>().toEqualTypeOf<z.infer<typeof contract.DeletedFile>>();
    expectTypeOf<G.DeletedFusion>().toEqualTypeOf<z.infer<typeof contract.DeletedFusion>>();
    expectTypeOf<G.FileStatus>().toEqualTypeOf<z.infer<typeof contract.FileStatus>>();
    expectTypeOf<G.LinkTarget>().toEqualTypeOf<z.infer<typeof contract.LinkTarget>>();
    expectTypeOf<G.ListFilesInput>().toEqualTypeOf<z.input<typeof contract.ListFilesInput>>();
    expectTypeOf<G.ListFusionsInput>().toEqualTypeOf<z.input<typeof contract.ListFusionsInput>>();
    expectTypeOf<G.RunnerSeen>().toEqualTypeOf<z.infer<typeof contract.RunnerSeen>>();
    expectTypeOf<G.ScheduleWithRuns>().toEqualTypeOf<z.infer<typeof contract.ScheduleWithRuns>>();
    expectTypeOf<G.SignedLink>().toEqualTypeOf<z.infer<typeof contract.SignedLink>>();
    expectTypeOf<G.VersionInfo>().toEqualTypeOf<z.infer<typeof contract.VersionInfo>>();
    expectTypeOf<G.WebhookAttempt>().toEqualTypeOf<z.infer<typeof contract.WebhookAttempt>>();
    expectTypeOf<G.WebhookDelivery>().toEqualTypeOf<z.infer<typeof contract.WebhookDelivery>>();
    expectTypeOf<G.WebhookEndpoint>().toEqualTypeOf<z.infer<typeof contract.WebhookEndpoint>>();
    expectTypeOf<G.WebhookEvent>().toEqualTypeOf<z.infer<typeof contract.WebhookEvent>>();
    expectTypeOf<G.WebhookEventType>().toEqualTypeOf<z.infer<typeof contract.WebhookEventType>>();
    expectTypeOf<G.WebhookSpec>().toEqualTypeOf<z.infer<typeof contract.WebhookSpec>>();
    expectTypeOf<G.WebhookUrl>().toEqualTypeOf<z.infer<typeof contract.WebhookUrl>>();
    expectTypeOf<G.ApiErrorCode>().toEqualTypeOf<keyof typeof contract.API_ERROR_STATUS>();
    expectTypeOf<G.ListPage<G.FusionJob>>().toEqualTypeOf<contract.ListPage<G.FusionJob>>();
  });

  it('the generated router gives clients what the server router does (compile-time)', () => {
    expectTypeOf<Equal<Procedures<RecordOf<GeneratedRouter>>, Procedures<RecordOf<ServerRouter>>>>().toEqualTypeOf<true>();
    expectTypeOf<Equal<inferRouterInputs<GeneratedRouter>, inferRouterInputs<ServerRouter>>>().toEqualTypeOf<true>();
    expectTypeOf<Equal<inferRouterError<GeneratedRouter>, inferRouterError<ServerRouter>>>().toEqualTypeOf<true>();
    // What clients receive is tRPC's JSON view (Serialize) of the outputs above, which are
    // identical; Serialize spells an index signature of a zod type and of its generated
    // twin differently (an extra number index), so here each side must accept the other.
    expectTypeOf<Extends<inferRouterOutputs<GeneratedRouter>, inferRouterOutputs<ServerRouter>>>().toEqualTypeOf<true>();
    expectTypeOf<Extends<inferRouterOutputs<ServerRouter>, inferRouterOutputs<GeneratedRouter>>>().toEqualTypeOf<true>();
  });
});
