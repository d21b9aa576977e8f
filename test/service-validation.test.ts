/**
 * Validation at create (issue #15): what the runner would refuse when it
 * runs is refused when the job is created, with the 422 the contract
 * documents, naming the field, the file and the shapes. On the embedded
 * service with no runner, so nothing is ever run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { FileObject, FusionJob } from '../api/contract/src/index.ts';
import { startEmbedded } from './support/embedded.ts';
import { CLASSES, type Fixtures, INPUT, writeFixtures } from './support/fixtures.ts';
import { Rest, expectApiError } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-validation-'));
let fixtures: Fixtures;
let server: Awaited<ReturnType<typeof startEmbedded>>;
let api: Rest;
let a: FileObject, b: FileObject, cal: FileObject;

/**
 * A dataset file written byte by byte (the engine's serializer writes F32
 * and I64 only): x as F32 of `xShape`, y as `labels.dtype` little-endian.
 */
function dataset(name: string, xShape: number[], labels?: { dtype: 'I64' | 'I32' | 'U8' | 'I8'; values: number[] }): string {
  const count = xShape.reduce((p, d) => p * d, 1);
  const x = Buffer.alloc(count * 4);
  for (let i = 0; i < count; i++) x.writeFloatLE(0.5, 4 * i);
  const width = { I64: 8, I32: 4, U8: 1, I8: 1 } as const;
  const y = labels ? Buffer.alloc(labels.values.length * width[labels.dtype]) : Buffer.alloc(0);
  labels?.values.forEach((v, i) => {
    if (labels.dtype === 'I64') y.writeBigInt64LE(BigInt(v), 8 * i);
    else if (labels.dtype === 'I32') y.writeInt32LE(v, 4 * i);
    else if (labels.dtype === 'U8') y.writeUInt8(v, i);
    else y.writeInt8(v, i);
  });
  const header: Record<string, unknown> = { x: { dtype: 'F32', shape: xShape, data_offsets: [0, x.length] } };
  if (labels) header.y = { dtype: labels.dtype, shape: [labels.values.length], data_offsets: [x.length, x.length + y.length] };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([length, json, x, y]));
  return path;
}

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  server = await startEmbedded(join(dir, 'store'), 0);
  api = new Rest(server.url, (await createApiKey(server.services.store, 'acme')).token);
  [a, b, cal] = [await api.upload(fixtures.a, 'model'), await api.upload(fixtures.b, 'model'), await api.upload(fixtures.calibration, 'dataset')];
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const create = (spec: unknown) => api.fetch('/v1/fusions', { method: 'POST', json: spec });

describe('validation at create', () => {
  it('refuses a calibration file with the wrong feature count with 422 naming the file and shapes', async () => {
    const narrow = await api.upload(dataset('narrow-cal.safetensors', [12, INPUT - 6]), 'dataset');
    const err = await expectApiError(await create({ models: [a.id, b.id], calibration: { file: narrow.id } }), 'invalid_file');
    expect(err.message).toBe(`calibration.file: narrow-cal.safetensors has ${INPUT - 6} values per sample (x shape [12, ${INPUT - 6}]) but the models' input [${INPUT}] has ${INPUT}`);
    expect(err.details).toMatchObject({ field: 'calibration.file', id: narrow.id, name: 'narrow-cal.safetensors', shape: [12, INPUT - 6], expected: [INPUT] });
    // Nothing was made.
    expect((await api.json<{ data: FusionJob[] }>('/v1/fusions')).data).toEqual([]);
  });

  it('refuses an evaluation file of the wrong shape or with labels beyond the classes', async () => {
    const wide = await api.upload(dataset('wide-eval.safetensors', [3, 2, INPUT], { dtype: 'I64', values: [0, 1, 2] }), 'dataset');
    const shape = await expectApiError(await create({ models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: wide.id } }), 'invalid_file');
    expect(shape.message).toContain(`evaluation.file: wide-eval.safetensors has ${2 * INPUT} values per sample (x shape [3, 2, ${INPUT}])`);

    const labels = [0, CLASSES + 3, 1, 2];
    const beyond = await api.upload(dataset('beyond.safetensors', [4, INPUT], { dtype: 'I32', values: labels }), 'dataset');
    expect(beyond.dataset?.label_range).toEqual([0, CLASSES + 3]);
    const err = await expectApiError(await create({ models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: beyond.id } }), 'invalid_file');
    expect(err.message).toBe(`evaluation.file: beyond.safetensors has labels from 0 to ${CLASSES + 3}, but the models have ${CLASSES} classes (labels 0 to ${CLASSES - 1})`);
    expect(err.details).toMatchObject({ field: 'evaluation.file', label_range: [0, CLASSES + 3], classes: CLASSES });

    const negative = await api.upload(dataset('negative.safetensors', [3, INPUT], { dtype: 'I8', values: [1, -1, 0] }), 'dataset');
    expect(negative.dataset?.label_range).toEqual([-1, 1]);
    await expectApiError(await create({ models: [a.id, b.id], calibration: { file: cal.id }, evaluation: { file: negative.id } }), 'invalid_file');
  });

  it('refuses finetune training data of the wrong shape or labels, and needs training data to exist', async () => {
    const base = { models: [a.id, b.id], calibration: { file: cal.id } };
    const bad = await api.upload(dataset('train-labels.safetensors', [2, INPUT], { dtype: 'U8', values: [0, 200] }), 'dataset');
    const err = await expectApiError(await create({ ...base, finetune: { epochs: 1, train: { file: bad.id } } }), 'invalid_file');
    expect(err.details).toMatchObject({ field: 'finetune.train.file', label_range: [0, 200] });
    await expectApiError(await create({ ...base, distill: { epochs: 1, alpha: 0.5, temperature: 2, train: { file: 'file_0000000000000000000000000' } } }), 'not_found');
    await expectApiError(await create({ ...base, finetune: { epochs: 1 } }), 'invalid_request');
  });

  it('accepts data whose samples have the models’ values in another layout, and labels within the classes', async () => {
    const square = await api.upload(dataset('square.safetensors', [5, 4, INPUT / 4], { dtype: 'I64', values: [0, 1, 2, 3, 0] }), 'dataset');
    expect(square.dataset?.label_range).toEqual([0, CLASSES - 1]);
    const res = await create({ models: [a.id, b.id], calibration: { file: square.id }, evaluation: { file: square.id } });
    expect(res.status).toBe(200);
    const job = (await res.json()) as FusionJob;
    await api.json(`/v1/fusions/${job.id}/cancel`, { method: 'POST' });
  });
});
