/**
 * Finetuning through the service (the spec's `finetune` section) on the
 * embedded default: a job that finetunes after fusion emits one `finetune`
 * event per epoch, reports the training in its metrics and serves the same
 * bytes as `clafusion fuse --finetune`; bad finetune sections get their
 * documented codes before anything is queued.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileObject, type FusionJob, LIMITS } from '../api/contract/src/index.ts';
import { type Fixtures, fuseWithCli } from './support/fixtures.ts';
import { Rest, expectApiError } from './support/rest.ts';
import {
  type TrainingJobs,
  expectMisfitTrainingDataFails,
  expectTrainingDataChecked,
  startTrainingJobs,
  stopTrainingJobs,
  trainingJobsPaths,
} from './support/training-jobs.ts';

const paths = trainingJobsPaths('clafusion-finetune-');
const { trainPath } = paths;
let jobs: TrainingJobs | undefined;
let fixtures: Fixtures;
let api: Rest;
let a: FileObject, b: FileObject, cal: FileObject, ev: FileObject, train: FileObject;

/** The hyperparameters given both ways: as `fuse` flags and as the spec's finetune section. */
const FLAGS = ['--finetune', '2', '--train', trainPath, '--batch', '16', '--lr', '0.05', '--seed', '7'];
const finetune = () => ({ epochs: 2, train: { file: train.id }, batch_size: 16, lr: 0.05 });
const spec = () => ({ models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: ev.id }, seed: 7, finetune: finetune() });

beforeAll(async () => {
  jobs = await startTrainingJobs(paths);
  ({ fixtures, api, a, b, cal, ev, train } = jobs);
});

afterAll(() => stopTrainingJobs(jobs, paths));

describe('finetuning jobs', () => {
  it("finetunes after fusion: per-epoch finetune events, training metrics, the CLI's bytes", async () => {
    const [cliFinetuned, cliFused] = await Promise.all([
      fuseWithCli(fixtures, FLAGS, 'cli-finetuned.safetensors'),
      fuseWithCli(fixtures, ['--seed', '7'], 'cli-fused.safetensors'),
    ]);
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec() });
    expect(job.inputs.train).toEqual({ file: train.id, name: 'train.safetensors', sha256: train.sha256 });

    const events = await api.streamEvents(job.id);
    expect(events.at(-1)!.type).toBe('succeeded');
    const epochs = events.filter((e) => e.stage === 'finetune' && e.data.epoch !== undefined);
    expect(epochs.map((e) => e.data)).toEqual([
      expect.objectContaining({ model: 'fused', epoch: 1, epochs: 2, loss: expect.any(Number), eval_accuracy: expect.any(Number), lr: 0.05 }),
      expect.objectContaining({ model: 'fused', epoch: 2, epochs: 2 }),
    ]);
    const progress = events.filter((e) => e.progress !== null).map((e) => e.progress!);
    expect(progress).toEqual([...progress].sort((x, y) => x - y));

    const done = await api.json<FusionJob>(`/v1/fusions/${job.id}`);
    const report = JSON.parse(Buffer.from(await api.download(`/v1/fusions/${job.id}/outputs/report.json/content`)).toString());
    expect(report.training.history).toHaveLength(2);
    expect(report.training.settings).toMatchObject({ epochs: 2, batchSize: 16, lr: 0.05, seed: 7 });
    expect(done.metrics).toMatchObject({
      finetuned_accuracy: report.accuracy.finetuned.fused,
      finetune: { epochs: 2, best_epoch: report.training.bestEpoch },
    });
    expect(epochs.map((e) => e.data.eval_accuracy)).toEqual(report.training.history.map((h: { evalAccuracy: number }) => h.evalAccuracy));

    const fused = Buffer.from(await api.download(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`));
    expect(fused.equals(readFileSync(cliFinetuned))).toBe(true);
    // Finetuning changed the weights: it is not the plain fusion's output.
    expect(fused.equals(readFileSync(cliFused))).toBe(false);
  });

  it('answers bad finetune sections with their documented codes', async () => {
    const post = (body: unknown) => api.fetch('/v1/fusions', { method: 'POST', json: body });
    const withFinetune = (f: Record<string, unknown>) => ({ ...spec(), finetune: { ...finetune(), ...f } });

    const over = await expectApiError(await post(withFinetune({ epochs: LIMITS.maxFinetuneEpochs + 1 })), 'limit_exceeded');
    expect(over.details).toMatchObject({ field: 'finetune.epochs', limit: LIMITS.maxFinetuneEpochs });
    for (const bad of [{ epochs: -1 }, { epochs: 1.5 }, { preset: 'magic' }, { batch_size: 0 }, { lr: -1 }, { models: 'some' }, { augment_fill: [] }, { dropout: 0.1 }]) {
      await expectApiError(await post(withFinetune(bad)), 'invalid_request');
    }
    const { train: _train, ...noTrain } = finetune();
    await expectApiError(await post({ ...spec(), finetune: noTrain }), 'invalid_request');

    await expectTrainingDataChecked(jobs!, paths, 'finetune', (t) => withFinetune({ train: t }));
  });

  it('refuses a job whose training data does not fit the models at create with 422 invalid_file, naming it', async () => {
    await expectMisfitTrainingDataFails(jobs!, paths, 'finetune', (t) => ({ ...spec(), finetune: { epochs: 1, train: t } }));
  });
});
