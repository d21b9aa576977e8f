import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Arch } from '@clafusion/model-format/arch';
import { forward } from '../engine/nn/forward.ts';
import { initModel } from '../engine/nn/init.ts';
import { Rng } from '../engine/rng.ts';
import { initBackend } from '../runtime/backend.ts';
import { createTapRecorder } from './record-taps.ts';

/** Bitwise equality of two float32 arrays. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

describe('recording taps on several threads', () => {
  beforeAll(async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
  });
  const rng = new Rng(5);
  const n = 11; // not a multiple of the thread count or the batch size
  const x = { shape: [n, 3, 8, 8], data: Float32Array.from({ length: n * 3 * 8 * 8 }, () => rng.normal()) };
  const archs: Arch[] = [
    { family: 'resnet', input: [8, 8, 3], blocks: [1, 2], widths: [4, 8], classes: 3, bias: false, batchnorm: true },
    { family: 'vgg', input: [8, 8, 3], config: [4, 'M', 6, 6, 'M'], classes: 3, bias: true },
  ];
  const recorders: ReturnType<typeof createTapRecorder>[] = [];
  afterAll(async () => {
    await Promise.all(recorders.map((r) => r.close()));
  });

  for (const arch of archs) {
    for (const activations of ['pre', 'post'] as const) {
      it(`gives a single-threaded forward pass's bits (${arch.family}, ${activations})`, async () => {
        const model = initModel(arch, 3);
        // Pinned to tfjs: the bits are compared with tfjs's own forward pass (onnxruntime agrees to float32 rounding only).
        const recorder = createTapRecorder(x, activations, { threads: 3, runtime: 'tfjs' });
        recorders.push(recorder);
        const taps = await recorder(model);
        const single = forward(model, x, { taps: true, activations, batchSize: 4 });
        expect(taps.map((t) => t.shape)).toEqual(single.tapShapes);
        taps.forEach((tap, k) => expect(sameBits(tap.data, single.taps![k])).toBe(true));
        // The recorder remembers the model: the same arrays come back.
        expect(await recorder(model)).toBe(taps);
      }, 60_000);
    }
  }
});
