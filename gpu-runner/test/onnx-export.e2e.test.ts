/**
 * The `.onnx` files clafusion writes, run by onnxruntime (onnxruntime-node's
 * CPU build): a named input and output, a dynamic batch dimension, only
 * default-domain operators, and our forward pass's logits on Fashion-MNIST
 * test images for every family, with and without bias and BatchNorm.
 */
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { forward } from '../src/engine/nn/forward.ts';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, serializeModelOnnx } from '../src/io/onnx-writer.ts';
import { initBackend } from '../src/runtime/backend.ts';
import { EXPORT_ARCHS, evalImages, exportModel } from './support/export-models.ts';
import { maxAbsDiff } from './support/pytorch.ts';
import { readProto } from './support/protobuf-reader.ts';

beforeAll(async () => {
  await initBackend();
});

async function runOnnx(session: ort.InferenceSession, x: Tensor32): Promise<{ logits: Float32Array; dims: readonly number[] }> {
  const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', x.data, x.shape) });
  const logits = out[ONNX_OUTPUT_NAME];
  return { logits: logits.data as Float32Array, dims: logits.dims };
}

function firstRows(x: Tensor32, n: number): Tensor32 {
  const per = x.data.length / x.shape[0];
  return { shape: [n, ...x.shape.slice(1)], data: x.data.slice(0, n * per) };
}

/** Every node's (domain, op_type), decoded from the bytes with a protobuf reader independent of the writer. */
function nodeOps(bytes: Uint8Array): { domain: string; op: string }[] {
  const model = readProto(bytes);
  const graph = readProto(model.find((f) => f.field === 7)!.value as Uint8Array);
  const text = (v: unknown) => new TextDecoder().decode(v as Uint8Array);
  return graph
    .filter((f) => f.field === 1)
    .map((f) => {
      const node = readProto(f.value as Uint8Array);
      const domain = node.find((n) => n.field === 7);
      return { domain: domain ? text(domain.value) : '', op: text(node.find((n) => n.field === 4)!.value) };
    });
}

describe('ONNX export', () => {
  it.each(EXPORT_ARCHS)('%s: onnxruntime gives our logits, at any batch size', async (_label, arch) => {
    const model = exportModel(arch, 11);
    const bytes = serializeModelOnnx(model, { metadata: { 'clafusion.version': 'test' } });
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputNames).toEqual([ONNX_INPUT_NAME]);
    expect(session.outputNames).toEqual([ONNX_OUTPUT_NAME]);

    const x = await evalImages(arch, 64);
    const ours = forward(model, x).logits;
    const full = await runOnnx(session, x);
    expect(full.dims).toEqual([64, arch.classes]);
    expect(maxAbsDiff(full.logits, ours)).toBeLessThanOrEqual(1e-4);
    // The batch dimension is symbolic: the same session takes 3 samples.
    const few = await runOnnx(session, firstRows(x, 3));
    expect(few.dims).toEqual([3, arch.classes]);
    expect(maxAbsDiff(few.logits, ours.subarray(0, 3 * arch.classes))).toBeLessThanOrEqual(1e-4);

    const ops = new Set(nodeOps(bytes).map((n) => n.op));
    expect(nodeOps(bytes).every((n) => n.domain === '')).toBe(true);
    const expected = {
      mlp: arch.family === 'mlp' && arch.input.length > 1 ? ['Flatten', 'Gemm', 'Relu'] : ['Gemm', 'Relu'],
      vgg: ['Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm', ...(arch.family === 'vgg' && arch.batchnorm ? ['BatchNormalization'] : [])],
      resnet: ['Conv', 'Relu', 'Add', 'GlobalAveragePool', 'Flatten', 'Gemm', ...(arch.family === 'resnet' && arch.batchnorm ? ['BatchNormalization'] : [])],
    }[arch.family];
    expect([...ops].sort()).toEqual([...expected].sort());
  });

  it('is a pure function of the model', () => {
    const [, arch] = EXPORT_ARCHS[5];
    const a = serializeModelOnnx(exportModel(arch, 1), { metadata: { k: 'v' } });
    const b = serializeModelOnnx(exportModel(arch, 1), { metadata: { k: 'v' } });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('refuses a model whose parameters do not match its architecture, naming the tensor', () => {
    const [, arch] = EXPORT_ARCHS[0];
    const model = exportModel(arch, 1);
    model.params.delete('fc2.bias');
    expect(() => serializeModelOnnx(model)).toThrow(/tensor fc2\.bias is missing/);
  });
});
