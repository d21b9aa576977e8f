/**
 * PyTorch checkpoints through the embedded service, as a user uploads them:
 * files written by real torch.save (zip and legacy format, DataParallel) are
 * accepted as models (the API reads only their directory and pickle), fuse
 * into the very bytes the same models give as safetensors, and can become
 * lineage versions; a checkpoint whose pickle would run code is refused at
 * complete, naming the file and the object, and nothing runs.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileObject, FusionJob } from '../api/contract/src/index.ts';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { RunningServer } from '../api/src/server.ts';
import type { FolderStore } from '../api/src/storage/index.ts';
import { concatBytes, pickle, torchZipBytes } from '../gpu-runner/src/io/fuzz-helpers.ts';
import { serializeModel } from '../gpu-runner/src/io/model-file.ts';
import { OFFICIAL_RESNET_NAMING } from '../gpu-runner/model-format/src/naming.ts';
import { randomCnn } from '../gpu-runner/test/support/reference-cnn.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { startEmbedded } from './support/embedded.ts';
import { Rest, expectApiError } from './support/rest.ts';

const SCRIPT = fileURLToPath(new URL('../gpu-runner/test/support/write-checkpoints.fixture.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'clafusion-torch-api-'));
let fixtures: Fixtures;
let server: RunningServer & { store: FolderStore };
let api: Rest;

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  copyFileSync(fixtures.a, join(dir, 'a.safetensors'));
  copyFileSync(fixtures.b, join(dir, 'b.safetensors'));
  // A ResNet with BatchNorm: its int64 num_batches_tracked buffers are in the checkpoint as torch writes them.
  const resnet = randomCnn({ family: 'resnet', input: [32, 32, 3], blocks: [1, 1, 1, 1], widths: [4, 4, 8, 8], classes: 3, bias: false, batchnorm: true }, 1);
  writeFileSync(join(dir, 'r.safetensors'), serializeModel(resnet, OFFICIAL_RESNET_NAMING));
  execFileSync('/usr/bin/python3', [SCRIPT, dir, 'a', 'b', 'r'], { stdio: 'pipe' });
  server = await startEmbedded(join(dir, 'store'));
  api = new Rest(server.url, (await createApiKey(server.store, 'acme')).token);
}, 120_000);

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function fuse(models: FileObject[], cal: FileObject): Promise<Uint8Array> {
  const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: { models: models.map((m) => m.id), calibration: { file: cal.id } } });
  const done = await api.waitFor(job.id, (j) => j.status === 'succeeded' || j.status === 'failed');
  expect(done.error ?? null).toBeNull();
  return api.download(`/v1/fusions/${job.id}/outputs/fused.safetensors/content`);
}

describe('PyTorch checkpoint uploads', () => {
  it('torch.save files are models: same architecture as the safetensors, and the same fused bytes', async () => {
    const cal = await api.upload(fixtures.calibration, 'dataset');
    const [a, b, aZip, bLegacy, bParallel] = await Promise.all([
      api.upload(join(dir, 'a.safetensors'), 'model'),
      api.upload(join(dir, 'b.safetensors'), 'model'),
      api.upload(join(dir, 'a.zip.pt'), 'model'),
      api.upload(join(dir, 'b.legacy.pt'), 'model'),
      api.upload(join(dir, 'b.dp.pt'), 'model'),
    ]);
    for (const [pt, st] of [[aZip, a], [bLegacy, b], [bParallel, b]]) {
      expect(pt.status).toBe('ready');
      expect(pt.model!.arch).toEqual(st.model!.arch);
      expect(pt.model!.parameters).toBe(st.model!.parameters);
      expect(pt.model!.arch_source).toBe('inferred');
    }
    const fromSafetensors = await fuse([a, b], cal);
    const fromTorch = await fuse([aZip, bLegacy], cal);
    expect(Buffer.from(fromTorch).equals(Buffer.from(fromSafetensors))).toBe(true);
    expect(Buffer.from(await fuse([aZip, bParallel], cal)).equals(Buffer.from(fromSafetensors))).toBe(true);

    // A BatchNorm ResNet in the legacy format: the int64 num_batches_tracked buffers are skipped as the runner skips them.
    const [r, rLegacy] = await Promise.all([api.upload(join(dir, 'r.safetensors'), 'model'), api.upload(join(dir, 'r.legacy.pt'), 'model')]);
    expect(rLegacy.model!.arch).toEqual(r.model!.arch);
    expect(rLegacy.model!.parameters).toBe(r.model!.parameters);
    expect(rLegacy.model!.dtypes).toEqual(['F32', 'I64']);

    const version = await api.fetch('/v1/lineages/from-torch/versions', { method: 'POST', json: { file: aZip.id } });
    expect(version.ok).toBe(true);
    expect(((await version.json()) as { file: string }).file).toBe(aZip.id);
  });

  it('a checkpoint whose pickle calls builtins.eval is refused at complete, naming file and object, and nothing runs', async () => {
    const canary = join(dir, 'CANARY');
    const evil = concatBytes(
      pickle.proto(),
      pickle.global('builtins', 'eval'),
      pickle.mark,
      pickle.str(`open(${JSON.stringify(canary)}, "w").close()`),
      pickle.tuple,
      pickle.reduce,
      pickle.stop,
    );
    const path = join(dir, 'evil.pt');
    writeFileSync(path, torchZipBytes(evil));
    const created = await api.json<{ file: FileObject }>('/v1/files', {
      method: 'POST',
      json: { name: 'evil.pt', purpose: 'model', size: torchZipBytes(evil).length },
    });
    const put = await api.fetch(`/v1/files/${created.file.id}/content`, { method: 'PUT', body: torchZipBytes(evil) });
    expect(put.status).toBe(200);
    const err = await expectApiError(await api.fetch(`/v1/files/${created.file.id}/complete`, { method: 'POST' }), 'invalid_file');
    expect(err.message).toBe('evil.pt: unsupported object in checkpoint: builtins.eval');
    expect(err.details.engine_code).toBe('UNSUPPORTED');
    expect(existsSync(canary)).toBe(false);
  });
});
