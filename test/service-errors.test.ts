/**
 * The bad-input matrix against the embedded service: every malformed,
 * oversized, unauthenticated or foreign request gets its documented status
 * and error code, no stack or server detail leaks, and the store is exactly
 * as it was before the bad requests.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileObject, FusionJob } from '../api/contract/src/index.ts';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { RunningServer } from '../api/src/server.ts';
import type { FolderStore } from '../api/src/storage/index.ts';
import { initModel } from '../gpu-runner/src/engine/nn/init.ts';
import { parseModelFile } from '../gpu-runner/src/io/model-file.ts';
import { OFFICIAL_MLP_NAMING, fromCanonical } from '../gpu-runner/model-format/src/naming.ts';
import { serializeSafetensors } from '../gpu-runner/model-format/src/safetensors.ts';
import { ARCH_A, CLASSES, INPUT, type Fixtures, modelBytes, writeFixtures } from './support/fixtures.ts';
import { TEST_UPLOAD_LIMIT, startEmbedded, storeFingerprint } from './support/embedded.ts';
import { Rest, expectApiError } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-errors-'));
let fixtures: Fixtures;
let server: RunningServer & { store: FolderStore };
let api: Rest;
let other: Rest;
let a: FileObject, b: FileObject, cal: FileObject, pending: FileObject;
let job: FusionJob;

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Creates a file and PUTs its bytes, without completing it. */
async function uploadOnly(path: string, purpose: 'model' | 'dataset'): Promise<FileObject> {
  const bytes = readFileSync(path);
  const { file: f } = await api.json<{ file: FileObject }>('/v1/files', { method: 'POST', json: { name: path.split('/').pop(), purpose, size: bytes.length } });
  const put = await api.fetch(`/v1/files/${f.id}/content`, { method: 'PUT', body: bytes });
  expect(put.status).toBe(200);
  return f;
}

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  server = await startEmbedded(join(dir, 'store'));
  api = new Rest(server.url, (await createApiKey(server.store, 'acme')).token);
  other = new Rest(server.url, (await createApiKey(server.store, 'other-co')).token);
  [a, b, cal] = await Promise.all([api.upload(fixtures.a, 'model'), api.upload(fixtures.b, 'model'), api.upload(fixtures.calibration, 'dataset')]);
  pending = (await api.json<{ file: FileObject }>('/v1/files', { method: 'POST', json: { name: 'later.safetensors', purpose: 'model', size: 1000 } })).file;
  job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { models: [a.id, b.id], calibration: { file: cal.id } } });
  await api.waitFor(job.id, (j) => j.status === 'succeeded');
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('bad input matrix', () => {
  it('refuses bad model and dataset files at complete, in the engine’s words, leaving them pending', async () => {
    const malformed = await uploadOnly(file('garbage.safetensors', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])), 'model');
    const err1 = await expectApiError(await api.fetch(`/v1/files/${malformed.id}/complete`, { method: 'POST' }), 'invalid_file');
    expect(err1.details.engine_code).toBe('MALFORMED_FILE');

    // Tensors that disagree with the architecture in __metadata__.arch.
    const tensors = fromCanonical(initModel(ARCH_A, 1), OFFICIAL_MLP_NAMING);
    const wrongShapes = file('wrong-shapes.safetensors', serializeSafetensors(tensors, { arch: JSON.stringify({ ...ARCH_A, hidden: [12, 11, 8] }) }));
    const f2 = await uploadOnly(wrongShapes, 'model');
    const err2 = await expectApiError(await api.fetch(`/v1/files/${f2.id}/complete`, { method: 'POST' }), 'invalid_file');
    expect(err2.details.engine_code).toBe('SHAPE_MISMATCH');
    let engineMessage = '';
    try {
      parseModelFile(readFileSync(wrongShapes));
    } catch (e) {
      engineMessage = (e as Error).message;
    }
    expect(err2.message).toBe(`wrong-shapes.safetensors: ${engineMessage}`);

    const ints = file('int-weights.safetensors', serializeSafetensors([['fc1.weight', { dtype: 'I32', shape: [2, 2], data: [1, 2, 3, 4] }]]));
    const f3 = await uploadOnly(ints, 'model');
    expect((await expectApiError(await api.fetch(`/v1/files/${f3.id}/complete`, { method: 'POST' }), 'invalid_file')).details.engine_code).toBe('UNSUPPORTED');

    const noX = file('no-x.safetensors', serializeSafetensors([['y', { dtype: 'I64', shape: [2], data: [0, 1] }]]));
    const f4 = await uploadOnly(noX, 'dataset');
    expect((await expectApiError(await api.fetch(`/v1/files/${f4.id}/complete`, { method: 'POST' }), 'invalid_file')).details.engine_code).toBe('MISSING_TENSOR');

    for (const f of [malformed, f2, f3, f4]) expect((await api.json<FileObject>(`/v1/files/${f.id}`)).status).toBe('pending');
    await expectApiError(await api.fetch(`/v1/files/${pending.id}/complete`, { method: 'POST' }), 'file_not_ready');
  });

  it('answers every bad request with its documented status and code, and changes nothing stored', async () => {
    const before = await storeFingerprint(server.store);
    const spec = { models: [a.id, b.id], calibration: { file: cal.id } };
    const post = (path: string, json: unknown, client = api) => client.fetch(path, { method: 'POST', json });

    // Missing fields and wrong types.
    const missing = await expectApiError(await post('/v1/fusions', { models: [a.id, b.id] }), 'invalid_request');
    expect(missing.details.issues).toEqual([expect.objectContaining({ path: 'calibration' })]);
    await expectApiError(await post('/v1/fusions', { ...spec, models: 'both' }), 'invalid_request');
    await expectApiError(await post('/v1/fusions', { ...spec, seed: 'seven' }), 'invalid_request');
    await expectApiError(await post('/v1/fusions', { ...spec, fusion: { method: 'magic' } }), 'invalid_request');
    await expectApiError(await post('/v1/fusions', { ...spec, unknown_option: true }), 'invalid_request');
    await expectApiError(await post('/v1/fusions', { ...spec, fusion: { weights: [1, 2, 3] } }), 'invalid_request');
    await expectApiError(await api.fetch('/v1/fusions', { method: 'POST', body: '{"models":', headers: { 'content-type': 'application/json' } }), 'invalid_request');
    await expectApiError(await api.fetch('/v1/fusions', { method: 'POST', body: JSON.stringify(spec), headers: { 'content-type': 'text/plain' } }), 'unsupported_media_type');
    await expectApiError(await post('/v1/files', { name: 'x', purpose: 'model', size: -1 }), 'invalid_request');
    await expectApiError(await post('/v1/files', { name: '../../etc/passwd', purpose: 'model', size: 10 }), 'invalid_request');

    // Limits.
    await expectApiError(await post('/v1/fusions', { ...spec, models: Array(9).fill(a.id) }), 'limit_exceeded');
    await expectApiError(await post('/v1/fusions', { ...spec, calibration: { file: cal.id, samples: 20_000 } }), 'limit_exceeded');
    await expectApiError(await post('/v1/fusions', { ...spec, calibration: { file: cal.id, samples: 41 } }), 'invalid_request');

    // Unknown ids, wrong kinds, files not completed.
    const ghostFile = 'file_0000000000000000000000000';
    const ghostJob = 'fus_0000000000000000000000000';
    await expectApiError(await api.fetch(`/v1/files/${ghostFile}`), 'not_found');
    await expectApiError(await api.fetch(`/v1/fusions/${ghostJob}`), 'not_found');
    await expectApiError(await api.fetch(`/v1/fusions/${ghostJob}/events/stream`), 'not_found');
    await expectApiError(await post('/v1/fusions', { ...spec, models: [a.id, ghostFile] }), 'not_found');
    await expectApiError(await post('/v1/fusions', { ...spec, models: [a.id, cal.id] }), 'invalid_request');
    await expectApiError(await post('/v1/fusions', { ...spec, models: [a.id, pending.id] }), 'file_not_ready');
    await expectApiError(await api.fetch('/v1/nothing-here'), 'not_found');

    // Path-like ids never reach the store.
    for (const id of ['..%2F..%2Fsystem', '..', 'file_..%2F..%2F..%2Fx', `${a.id}%2F..`, 'fus_%2E%2E']) {
      const res = await api.fetch(`/v1/files/${id}`);
      expect([400, 404]).toContain(res.status);
      await expectApiError(res, res.status === 400 ? 'invalid_request' : 'not_found');
    }
    await expectApiError(await api.fetch('/v1/files/..%2Fx/content', { method: 'PUT', body: 'x' }), 'invalid_request');
    await expectApiError(await api.fetch('/v1/fusions/..%2Fx/events/stream'), 'invalid_request');

    // Another tenant's ids answer exactly as unknown ones.
    const foreign = await expectApiError(await other.fetch(`/v1/files/${a.id}`), 'not_found');
    expect(foreign.message).toBe(`No such file: ${a.id}`);
    await expectApiError(await other.fetch(`/v1/fusions/${job.id}`), 'not_found');
    await expectApiError(await other.fetch(`/v1/fusions/${job.id}/cancel`, { method: 'POST' }), 'not_found');
    await expectApiError(await other.fetch(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`), 'not_found');
    await expectApiError(await other.fetch(`/v1/files/${a.id}/content`), 'not_found');
    await expectApiError(await other.fetch(`/v1/files/${pending.id}/content`, { method: 'PUT', body: 'x' }), 'not_found');
    await expectApiError(await post('/v1/fusions', spec, other), 'not_found');

    // Oversize uploads: declared above the limit, or more bytes than declared.
    await expectApiError(await post('/v1/files', { name: 'big.safetensors', purpose: 'model', size: TEST_UPLOAD_LIMIT + 1 }), 'payload_too_large');
    await expectApiError(await api.fetch(`/v1/files/${pending.id}/content`, { method: 'PUT', body: new Uint8Array(1001) }), 'payload_too_large');
    const chunked = new ReadableStream({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(300));
        c.close();
      },
    });
    await expectApiError(await api.fetch(`/v1/files/${pending.id}/content`, { method: 'PUT', body: chunked, duplex: 'half' } as RequestInit), 'payload_too_large');
    await expectApiError(await api.fetch(`/v1/files/${a.id}/content`, { method: 'PUT', body: readFileSync(fixtures.a) }), 'file_already_completed');
    await expectApiError(await post('/v1/fusions', { ...spec, padding: 'x'.repeat(2 * 1024 * 1024) }), 'payload_too_large');

    // Missing or invalid API keys, on REST, byte endpoints and tRPC.
    const anonymous = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, init);
    await expectApiError(await anonymous('/v1/fusions'), 'unauthorized');
    await expectApiError(await anonymous(`/v1/fusions/${job.id}`, { headers: { authorization: 'Bearer cfk_000000000000_00000000000000000000000000000000' } }), 'unauthorized');
    await expectApiError(await anonymous('/v1/fusions', { headers: { authorization: `Basic ${api.key}` } }), 'unauthorized');
    await expectApiError(await anonymous(`/v1/fusions/${job.id}/events/stream`), 'unauthorized');
    await expectApiError(await anonymous(`/v1/files/${pending.id}/content`, { method: 'PUT', body: 'x' }), 'unauthorized');
    const trpc = await anonymous(`/trpc/fusions.get?input=${encodeURIComponent(JSON.stringify({ id: job.id }))}`);
    expect(trpc.status).toBe(401);
    expect(await trpc.json()).toMatchObject({ error: { data: { error: { code: 'unauthorized' } } } });

    expect(await storeFingerprint(server.store)).toEqual(before);
  });

  it('refuses models that cannot be fused together with the engine’s message', async () => {
    const wide = await api.upload(file('other-classes.safetensors', modelBytes({ family: 'mlp', input: [INPUT], hidden: [12], classes: CLASSES + 1, bias: false }, 5)), 'model');
    const err = await expectApiError(await api.fetch('/v1/fusions', { method: 'POST', json: { models: [a.id, wide.id], calibration: { file: cal.id } } }), 'incompatible_models');
    expect(err.message).toBe('model 2 (other-classes.safetensors) has a different input size or class count from model 1');
  });
});
