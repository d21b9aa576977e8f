/**
 * A job spec's `outputs` through the service: asking for safetensors, pt and
 * onnx gives a job whose record lists fused.pt and fused.onnx after the usual
 * outputs; the SDK downloads each by name; they are the bytes the CLI writes
 * for the same inputs (`--out fused.pt --onnx fused.onnx`); PyTorch and
 * onnxruntime run them to the safetensors model's logits. Without `outputs`
 * a job writes only what it always did; an unknown format is refused.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { RunningServer } from '../api/src/server.ts';
import { forward } from '../gpu-runner/src/engine/nn/forward.ts';
import { parseDatasetSafetensors } from '../gpu-runner/src/io/datasets.ts';
import { parseModelFile } from '../gpu-runner/src/io/model-file.ts';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from '../gpu-runner/src/io/onnx-writer.ts';
import { initBackend } from '../gpu-runner/src/runtime/backend.ts';
import { maxAbsDiff, runTorchModel } from '../gpu-runner/test/support/pytorch.ts';
import { type FileObject, UnprocessableEntityError, BadRequestError, createClient } from '../sdk/src/index.ts';
import { startEmbedded } from './support/embedded.ts';
import { type Fixtures, fuseWithCli, writeFixtures } from './support/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-exports-'));
let fixtures: Fixtures;
let server: RunningServer;
let apiKey: string;

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  server = await startEmbedded(join(dir, 'store'));
  apiKey = (await createApiKey(server.services.store, 'acme')).token;
  await initBackend();
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('job outputs in PyTorch and ONNX', () => {
  let files: { a: FileObject; b: FileObject; cal: FileObject; ev: FileObject };

  it('writes, lists and serves fused.pt and fused.onnx, the CLI’s bytes, running to the fused logits', async () => {
    const client = createClient({ baseUrl: server.url, apiKey });
    files = {
      a: await client.files.upload(fixtures.a, { purpose: 'model' }),
      b: await client.files.upload(fixtures.b, { purpose: 'model' }),
      cal: await client.files.upload(fixtures.calibration, { purpose: 'dataset' }),
      ev: await client.files.upload(fixtures.evaluation, { purpose: 'dataset' }),
    };
    const job = await client.fusions.createAndWait({
      models: [files.a.id, files.b.id],
      calibration: { file: files.cal.id },
      evaluation: { file: files.ev.id },
      seed: 3,
      outputs: ['safetensors', 'pt', 'onnx'],
    });
    expect(job.status).toBe('succeeded');
    expect(job.spec.outputs).toEqual(['safetensors', 'pt', 'onnx']);
    expect(job.outputs.map((o) => o.name)).toEqual(['fused.safetensors', 'report.json', 'report.html', 'fused.pt', 'fused.onnx']);
    expect((await client.fusions.outputs(job.id)).map((o) => o.name)).toEqual(job.outputs.map((o) => o.name));

    const downloaded = {
      safetensors: await client.fusions.download(job.id, 'fused.safetensors'),
      pt: await client.fusions.download(job.id, 'fused.pt'),
      onnx: await client.fusions.download(job.id, 'fused.onnx'),
    };
    for (const [name, bytes] of [['fused.pt', downloaded.pt], ['fused.onnx', downloaded.onnx]] as const) {
      const listed = job.outputs.find((o) => o.name === name)!;
      expect(listed).toMatchObject({ size: bytes.byteLength, sha256: sha256(bytes), content_type: 'application/octet-stream' });
    }
    await client.fusions.downloadTo(job.id, 'fused.pt', join(dir, 'sdk-fused.pt'));
    expect(readFileSync(join(dir, 'sdk-fused.pt')).equals(Buffer.from(downloaded.pt))).toBe(true);

    // The CLI writes the same bytes for the same inputs and seed.
    const cliPt = await fuseWithCli(fixtures, ['--seed', '3', '--onnx', join(dir, 'cli-fused.onnx')], 'cli-fused.pt');
    expect(Buffer.from(downloaded.pt).equals(readFileSync(cliPt))).toBe(true);
    expect(Buffer.from(downloaded.onnx).equals(readFileSync(join(dir, 'cli-fused.onnx')))).toBe(true);

    // Both run to the safetensors model's logits on the evaluation set.
    const fused = parseModelFile(downloaded.safetensors).model;
    const { x } = parseDatasetSafetensors(readFileSync(fixtures.evaluation), 'eval');
    const ours = forward(fused, x).logits;
    const ptPath = join(dir, 'service-fused.pt');
    writeFileSync(ptPath, downloaded.pt);
    expect(maxAbsDiff((await runTorchModel(fused.arch, ptPath, x)).logits, ours)).toBeLessThanOrEqual(1e-4);
    const session = await ort.InferenceSession.create(downloaded.onnx);
    const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', x.data, x.shape) });
    expect(maxAbsDiff(out[ONNX_OUTPUT_NAME].data as Float32Array, ours)).toBeLessThanOrEqual(1e-4);
   }, 300_000);

  it('writes only the usual outputs without `outputs`, and refuses an unknown format naming the field', async () => {
    const client = createClient({ baseUrl: server.url, apiKey });
    const spec = { models: [files.a.id, files.b.id], calibration: { file: files.cal.id } };
    const plain = await client.fusions.createAndWait(spec);
    expect(plain.outputs.map((o) => o.name)).toEqual(['fused.safetensors', 'report.json', 'report.html']);
    await expect(client.fusions.download(plain.id, 'fused.pt')).rejects.toMatchObject({ status: 404 });

    const bad = client.fusions.create({ ...spec, outputs: ['h5'] } as unknown as Parameters<typeof client.fusions.create>[0]);
    const err = await bad.catch((e: unknown) => e);
    expect(err instanceof BadRequestError || err instanceof UnprocessableEntityError).toBe(true);
    expect(JSON.stringify(err)).toMatch(/outputs/);
   }, 120_000);
});
