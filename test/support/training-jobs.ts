/**
 * Shared setup of the finetuning and distillation service tests: an embedded
 * service with two tenants, the two-MLP fixture, and a labelled training set
 * uploaded next to the calibration and evaluation files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CreateFileResult, FileObject, FusionJob } from '../../api/contract/src/index.ts';
import { createApiKey } from '../../api/src/auth/api-keys.ts';
import type { RunningServer } from '../../api/src/server.ts';
import { startEmbedded } from './embedded.ts';
import { type Fixtures, datasetBytes, writeFixtures } from './fixtures.ts';
import { serializeSafetensors } from '../../gpu-runner/model-format/src/safetensors.ts';
import { Rest, expectApiError } from './rest.ts';

export interface TrainingJobsPaths {
  dir: string;
  /** The labelled training set, written by startTrainingJobs. */
  trainPath: string;
}

export interface TrainingJobs {
  fixtures: Fixtures;
  server: RunningServer;
  /** Tenant `acme`, which owns every uploaded file. */
  api: Rest;
  /** Tenant `globex`, for isolation checks. */
  other: Rest;
  a: FileObject;
  b: FileObject;
  cal: FileObject;
  ev: FileObject;
  train: FileObject;
}

/** A fresh folder; known before the service starts so tests can build CLI flags from it. */
export function trainingJobsPaths(prefix: string): TrainingJobsPaths {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, trainPath: join(dir, 'train.safetensors') };
}

export async function startTrainingJobs({ dir, trainPath }: TrainingJobsPaths): Promise<TrainingJobs> {
  const fixtures = writeFixtures(dir);
  writeFileSync(trainPath, datasetBytes(48, 5, true));
  const server = await startEmbedded(join(dir, 'store'));
  const api = new Rest(server.url, (await createApiKey(server.services.store, 'acme')).token);
  const other = new Rest(server.url, (await createApiKey(server.services.store, 'globex')).token);
  const [a, b, cal, ev, train] = await Promise.all([
    api.upload(fixtures.a, 'model'),
    api.upload(fixtures.b, 'model'),
    api.upload(fixtures.calibration, 'dataset'),
    api.upload(fixtures.evaluation, 'dataset'),
    api.upload(trainPath, 'dataset'),
  ]);
  return { fixtures, server, api, other, a, b, cal, ev, train };
}

export async function stopTrainingJobs(jobs: TrainingJobs | undefined, { dir }: TrainingJobsPaths): Promise<void> {
  await jobs?.server.close();
  rmSync(dir, { recursive: true, force: true });
}

type Section = 'finetune' | 'distill';

/**
 * The checks on a training-data reference, the same for both sections:
 * unknown and other tenants' files are not found, an unlabelled dataset or a
 * model file is invalid, a pending file is not ready. `withTrain` puts the
 * reference into an otherwise valid job spec.
 */
export async function expectTrainingDataChecked(
  jobs: TrainingJobs,
  paths: TrainingJobsPaths,
  section: Section,
  withTrain: (train: { file: string }) => unknown,
): Promise<void> {
  const { api, other, cal, a } = jobs;
  const post = (body: unknown) => api.fetch('/v1/fusions', { method: 'POST', json: body });
  const field = `${section}.train.file`;
  const missing = await expectApiError(await post(withTrain({ file: 'file_0000000000000000000000000' })), 'not_found');
  expect(missing.details.field).toBe(field);
  // Another tenant's dataset is not found either, for that tenant.
  const foreign = await other.upload(paths.trainPath, 'dataset');
  await expectApiError(await post(withTrain({ file: foreign.id })), 'not_found');

  const unlabelled = await expectApiError(await post(withTrain({ file: cal.id })), 'invalid_request');
  expect(unlabelled.details.field).toBe(field);
  await expectApiError(await post(withTrain({ file: a.id })), 'invalid_request');
  const { file: pending } = await api.json<CreateFileResult>('/v1/files', { method: 'POST', json: { name: 'later.safetensors', purpose: 'dataset', size: 10 } });
  await expectApiError(await post(withTrain({ file: pending.id })), 'file_not_ready');
}

/** A labelled dataset whose rows do not fit the models fails the job with invalid_input naming the section's data. */
export async function expectMisfitTrainingDataFails(
  jobs: TrainingJobs,
  paths: TrainingJobsPaths,
  section: Section,
  withTrain: (train: { file: string }) => unknown,
): Promise<void> {
  const narrowPath = join(paths.dir, `narrow-${section}.safetensors`);
  writeFileSync(
    narrowPath,
    serializeSafetensors([
      ['x', { shape: [8, 5], data: new Float32Array(40) }],
      ['y', { dtype: 'I64', shape: [8], data: new Array(8).fill(1) }],
    ]),
  );
  const narrow = await jobs.api.upload(narrowPath, 'dataset');
  // Refused at create (issue #15), with what the runner would have said: the field, the file and both shapes.
  const refused = await expectApiError(await jobs.api.fetch('/v1/fusions', { method: 'POST', json: withTrain({ file: narrow.id }) }), 'invalid_file');
  expect(refused.message).toContain(`${section}.train.file: narrow-${section}.safetensors has 5 values per sample (x shape [8, 5])`);
  expect(refused.details).toMatchObject({ field: `${section}.train.file`, id: narrow.id, shape: [8, 5] });
}
