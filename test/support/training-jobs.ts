/**
 * Shared setup of the finetuning and distillation service tests: an embedded
 * service with two tenants, the two-MLP fixture, and a labelled training set
 * uploaded next to the calibration and evaluation files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileObject } from '../../api/src/contract/index.ts';
import { createApiKey } from '../../api/src/auth/api-keys.ts';
import type { RunningServer } from '../../api/src/server.ts';
import { startEmbedded } from './embedded.ts';
import { type Fixtures, datasetBytes, writeFixtures } from './fixtures.ts';
import { Rest } from './rest.ts';

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
