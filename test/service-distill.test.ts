/**
 * Distillation through the service (the spec's `distill` section) on the
 * embedded default: a job that distils the inputs into the fused model emits
 * one `finetune`-stage event per epoch (kind 'distill'), reports the training
 * in its metrics and serves the same bytes as `clafusion fuse --distill`; bad
 * distill sections get their documented codes before anything is queued.
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

const paths = trainingJobsPaths('clafusion-distill-');
const { trainPath } = paths;
let jobs: TrainingJobs | undefined;
let fixtures: Fixtures;
let api: Rest;
let a: FileObject, b: FileObject, cal: FileObject, ev: FileObject, train: FileObject;

/** The hyperparameters given both ways: as `fuse` flags and as the spec's distill section. */
const FLAGS = ['--distill', '2', '--train', trainPath, '--alpha', '0.7', '--temperature', '4', '--batch', '16', '--lr', '0.05', '--seed', '7'];
const distill = () => ({ epochs: 2, train: { file: train.id }, alpha: 0.7, temperature: 4, batch_size: 16, lr: 0.05 });
const spec = () => ({ models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: ev.id }, seed: 7, distill: distill() });

beforeAll(async () => {
  jobs = await startTrainingJobs(paths);
  ({ fixtures, api, a, b, cal, ev, train } = jobs);
});

afterAll(() => stopTrainingJobs(jobs, paths));

describe('distillation jobs', () => {
  it("distils after fusion: per-epoch events, training metrics, the CLI's bytes", async () => {
    const [cliDistilled, cliFused, cliLast, cliDeeperLast, cliFusedNoEval] = await Promise.all([
      fuseWithCli(fixtures, FLAGS, 'cli-distilled.safetensors'),
      fuseWithCli(fixtures, ['--seed', '7'], 'cli-fused.safetensors'),
      // Without --eval the last epoch is kept, so the training shows in the weights.
      fuseWithCli(fixtures, FLAGS, 'cli-distilled-last.safetensors', false),
      fuseWithCli(fixtures, [...FLAGS, '--distill-teachers', 'deeper'], 'cli-distilled-deeper.safetensors', false),
      fuseWithCli(fixtures, ['--seed', '7'], 'cli-fused-noeval.safetensors', false),
    ]);
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec() });
    expect(job.inputs.train).toEqual({ file: train.id, name: 'train.safetensors', sha256: train.sha256 });

    const events = await api.streamEvents(job.id);
    expect(events.at(-1)!.type).toBe('succeeded');
    const epochs = events.filter((e) => e.stage === 'finetune' && e.data.epoch !== undefined);
    expect(epochs.map((e) => e.data)).toEqual([
      expect.objectContaining({ kind: 'distill', model: 'fused', epoch: 1, epochs: 2, loss: expect.any(Number), eval_accuracy: expect.any(Number), lr: 0.05 }),
      expect.objectContaining({ kind: 'distill', model: 'fused', epoch: 2, epochs: 2 }),
    ]);
    expect(epochs[0].message).toMatch(/^distill fused: epoch 1\/2/);
    const progress = events.filter((e) => e.progress !== null).map((e) => e.progress!);
    expect(progress).toEqual([...progress].sort((x, y) => x - y));

    const done = await api.json<FusionJob>(`/v1/fusions/${job.id}`);
    const report = JSON.parse(Buffer.from(await api.download(`/v1/fusions/${job.id}/outputs/report.json/content`)).toString());
    expect(report.training).toMatchObject({ kind: 'distill', reported: expect.any(Number), before: report.accuracy.fused });
    expect(report.training.history).toHaveLength(2);
    expect(report.training.settings).toMatchObject({ epochs: 2, batchSize: 16, lr: 0.05, seed: 7, alpha: 0.7, temperature: 4 });
    // §10.2's reported value: the best of the student before distillation and after every epoch.
    const candidates = [report.training.before, ...report.training.history.map((h: { evalAccuracy: number }) => h.evalAccuracy)];
    expect(report.training.reported).toBe(Math.max(...candidates));
    expect(report.accuracy.finetuned).toEqual({ fused: report.training.reported });
    expect(report.timings.distill).toEqual(expect.any(Number));
    expect(done.metrics).toMatchObject({
      distilled_accuracy: report.training.reported,
      distill: { epochs: 2, best_epoch: report.training.bestEpoch ?? null },
    });
    expect(done.metrics).not.toHaveProperty('finetune');
    expect(epochs.map((e) => e.data.eval_accuracy)).toEqual(report.training.history.map((h: { evalAccuracy: number }) => h.evalAccuracy));

    const fused = Buffer.from(await api.download(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`));
    expect(fused.equals(readFileSync(cliDistilled))).toBe(true);
    // The kept checkpoint is the student as fusion left it exactly when no epoch beat it.
    expect(fused.equals(readFileSync(cliFused))).toBe(report.training.keptInitial === true);

    // Without an evaluation set, only the deeper input as teacher: the CLI's bytes for --distill-teachers deeper.
    const { evaluation: _evaluation, ...noEval } = spec();
    const deeper = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { ...noEval, distill: { ...distill(), teachers: 'deeper' } } });
    expect((await api.waitFor(deeper.id, (j) => j.status === 'succeeded' || j.status === 'failed')).status).toBe('succeeded');
    const deeperFused = Buffer.from(await api.download(`/v1/fusions/${deeper.id}/outputs/fused.safetensors/content`));
    expect(deeperFused.equals(readFileSync(cliDeeperLast))).toBe(true);
    // Training changed the weights, and one teacher is not the two inputs' mean logit.
    expect(deeperFused.equals(readFileSync(cliFusedNoEval))).toBe(false);
    expect(deeperFused.equals(readFileSync(cliLast))).toBe(false);
    expect(readFileSync(cliLast).equals(readFileSync(cliFusedNoEval))).toBe(false);
  });

  it('answers bad distill sections with their documented codes', async () => {
    const post = (body: unknown) => api.fetch('/v1/fusions', { method: 'POST', json: body });
    const withDistill = (d: Record<string, unknown>) => ({ ...spec(), distill: { ...distill(), ...d } });

    const over = await expectApiError(await post(withDistill({ epochs: LIMITS.maxDistillEpochs + 1 })), 'limit_exceeded');
    expect(over.details).toMatchObject({ field: 'distill.epochs', limit: LIMITS.maxDistillEpochs });
    for (const bad of [
      { epochs: -1 },
      { epochs: 1.5 },
      { alpha: 1.5 },
      { alpha: -0.1 },
      { temperature: 0 },
      { teachers: 'all' },
      { preset: 'magic' },
      { batch_size: 0 },
      { lr: -1 },
      { augment_fill: [] },
      { models: 'all' },
    ]) {
      await expectApiError(await post(withDistill(bad)), 'invalid_request');
    }
    const { alpha: _alpha, ...noAlpha } = distill();
    await expectApiError(await post({ ...spec(), distill: noAlpha }), 'invalid_request');
    const { train: _train, ...noTrain } = distill();
    await expectApiError(await post({ ...spec(), distill: noTrain }), 'invalid_request');
    const both = await expectApiError(await post({ ...spec(), finetune: { epochs: 1, train: { file: train.id } } }), 'invalid_request');
    expect(both.details.field).toBe('distill');

    await expectTrainingDataChecked(jobs!, paths, 'distill', (t) => withDistill({ train: t }));
  });

  it('refuses a job whose training data does not fit the models at create with 422 invalid_file, naming it', async () => {
    await expectMisfitTrainingDataFails(jobs!, paths, 'distill', (t) => ({ ...spec(), distill: { ...distill(), epochs: 1, train: t } }));
  });
});
