/**
 * CNN activations recorded on onnxruntime (record-taps-onnx.ts) against the
 * engine's tfjs forward pass (forward.ts), the definition of every tap.
 *
 * The two runtimes sum convolutions in different orders, so the taps agree
 * to float32 rounding, not bit for bit: per tap, max |ort − tfjs| ≤
 * 1e-4 · max |tfjs| (measured ≤ ~1e-6 on these nets). Recording twice, or on
 * 1 and on 2 threads, gives the same bits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Arch, Model } from '@clafusion/model-format/arch';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { forward } from '../engine/nn/forward.ts';
import { defaultFusionOptions } from '../engine/fusion/options.ts';
import { Rng } from '../engine/rng.ts';
import { initBackend } from '../runtime/backend.ts';
import { exportModel } from '../../test/support/export-models.ts';
import { loadDataset } from '../io/datasets.ts';
import { createTapRecorder } from './record-taps.ts';
import { runFusion } from './run-fusion.ts';

const ARCHS: Array<[string, Arch]> = [
  ['VGG, no bias, no BN', { family: 'vgg', input: [12, 12, 3], config: [6, 'M', 8, 8, 'M'], classes: 5, bias: false }],
  ['VGG with bias', { family: 'vgg', input: [12, 12, 3], config: [6, 'M', 8, 'M'], classes: 5, bias: true }],
  ['VGG with BN, no bias, hidden FC layers, odd map sizes', { family: 'vgg', input: [11, 11, 3], config: [6, 'M', 8, 'M'], fc: [12], classes: 5, bias: false, batchnorm: true }],
  ['VGG with bias and BN', { family: 'vgg', input: [12, 12, 3], config: [6, 6, 'M', 8], classes: 5, bias: true, batchnorm: true }],
  ['ResNet with shortcut convs, no BN', { family: 'resnet', input: [12, 12, 3], blocks: [1, 2], widths: [4, 8], classes: 5, bias: false }],
  ['ResNet with shortcut convs, BN and bias', { family: 'resnet', input: [12, 12, 3], blocks: [2, 1, 1], widths: [4, 6, 8], classes: 5, bias: true, batchnorm: true }],
];

/** Bitwise equality of two float32 arrays. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function images(arch: Extract<Arch, { family: 'vgg' | 'resnet' }>, n: number, seed: number): Tensor32 {
  const rng = new Rng(seed);
  const [h, w, c] = arch.input;
  return { shape: [n, c, h, w], data: Float32Array.from({ length: n * c * h * w }, () => rng.normal()) };
}

const recorders: { close(): Promise<void> }[] = [];
function recorder(x: Tensor32, activations: 'pre' | 'post', threads: number) {
  const r = createTapRecorder(x, activations, { threads, runtime: 'onnxruntime' });
  recorders.push(r);
  return r;
}

beforeAll(async () => {
  await initBackend();
});
afterAll(async () => {
  await Promise.all(recorders.map((r) => r.close()));
});

describe('CNN taps recorded on onnxruntime', () => {
  for (const [label, arch] of ARCHS) {
    for (const activations of ['pre', 'post'] as const) {
      it(`equal the tfjs taps to float32 rounding, and repeat bit for bit (${label}, ${activations})`, async () => {
        const model: Model = exportModel(arch, 3);
        // 61 samples: several onnxruntime batches (25), not a multiple of it.
        const x = images(arch as Extract<Arch, { family: 'vgg' | 'resnet' }>, 61, 9);
        const ours = await recorder(x, activations, 1)(model);
        const tfjs = forward(model, x, { taps: true, activations, batchSize: 32 });
        expect(ours.map((t) => t.shape)).toEqual(tfjs.tapShapes);
        ours.forEach((tap, k) => {
          const ref = tfjs.taps![k];
          expect(tap.data.length).toBe(ref.length);
          const scale = maxAbs(ref);
          expect(scale).toBeGreaterThan(0);
          expect(maxAbsDiff(tap.data, ref), `tap ${k}`).toBeLessThanOrEqual(1e-4 * scale);
          // 'post': ReLU applied to every tap but the logits.
          if (activations === 'post' && k < ours.length - 1) expect(tap.data.every((v) => v >= 0)).toBe(true);
        });
        // A second recorder (nothing cached) gives the same bits; so does a 2-thread one
        // (checked for 'pre' only: starting recording threads takes seconds).
        const again = await recorder(x, activations, 1)(model);
        const threaded = activations === 'pre' ? await recorder(x, activations, 2)(model) : again;
        ours.forEach((tap, k) => {
          expect(sameBits(again[k].data, tap.data), `tap ${k} twice`).toBe(true);
          expect(sameBits(threaded[k].data, tap.data), `tap ${k} on 2 threads`).toBe(true);
        });
      }, 60_000);
    }
  }

  it('takes calibration rows flattened in C,H,W order, as forward() does', async () => {
    const arch = ARCHS[5][1] as Extract<Arch, { family: 'resnet' }>;
    const model = exportModel(arch, 4);
    const x = images(arch, 7, 2);
    const flat = { shape: [7, x.data.length / 7], data: x.data };
    const [image, rows] = [await recorder(x, 'pre', 1)(model), await recorder(flat, 'pre', 1)(model)];
    image.forEach((tap, k) => expect(sameBits(rows[k].data, tap.data)).toBe(true));
  });

  it('says which runtime recorded: onnxruntime for CNNs, nothing for MLPs (always tfjs)', async () => {
    const arch = ARCHS[0][1];
    const x = images(arch as Extract<Arch, { family: 'vgg' }>, 4, 1);
    const r = recorder(x, 'pre', 1);
    expect(r.used).toBeNull();
    await r(exportModel(arch, 1));
    expect(r.used).toMatchObject({ runtime: 'onnxruntime' });
    expect(r.used!.detail).toMatch(/^onnxruntime-node \d+\.\d+\.\d+ \(CPU\), 1 thread$/);
    const mlp = createTapRecorder({ shape: [4, 6], data: new Float32Array(24) }, 'pre', { runtime: 'onnxruntime' });
    await mlp(exportModel({ family: 'mlp', input: [6], hidden: [5], classes: 3, bias: true }, 1));
    expect(mlp.used).toBeNull();
  });
});

describe('a real small fusion on either runtime', () => {
  const pairs: Array<[string, Arch, Arch]> = [
    [
      'ResNet of different depth with BN',
      { family: 'resnet', input: [28, 28, 1], blocks: [3, 2], widths: [6, 12], classes: 10, bias: false, batchnorm: true },
      { family: 'resnet', input: [28, 28, 1], blocks: [1, 1], widths: [6, 12], classes: 10, bias: false, batchnorm: true },
    ],
    [
      'VGG of different depth',
      { family: 'vgg', input: [28, 28, 1], config: [8, 8, 'M', 16, 16, 'M', 16], classes: 10, bias: true },
      { family: 'vgg', input: [28, 28, 1], config: [8, 'M', 16, 'M', 16], classes: 10, bias: true },
    ],
  ];
  for (const [label, a, b] of pairs) {
    it(`gives the same mappings and per-group costs to rounding (${label}, Fashion-MNIST images)`, async () => {
      const { x } = await loadDataset('fashion-mnist:train', { limit: 100, normalize: 'fashion-mnist' });
      const calibration = { shape: [x.shape[0], 1, 28, 28], data: x.data };
      const request = {
        models: [
          { model: exportModel(a, 21), label: 'A' },
          { model: exportModel(b, 22), label: 'B' },
        ],
        calibration,
        samples: null,
        options: defaultFusionOptions(a.family),
      };
      const run = (recordRuntime: 'onnxruntime' | 'tfjs') => runFusion(request, { backend: 'test', now: () => 0, recordRuntime });
      const [ort, tfjs] = [await run('onnxruntime'), await run('tfjs')];
      expect(ort.report.recording?.runtime).toBe('onnxruntime');
      expect(tfjs.report.recording).toMatchObject({ runtime: 'tfjs' });
      expect(tfjs.report.recording!.fallback).toBeUndefined();
      expect(ort.report.alignment.mappings).toEqual(tfjs.report.alignment.mappings);
      expect(ort.report.alignment.groups.map((g) => g.mapping)).toEqual(tfjs.report.alignment.groups.map((g) => g.mapping));
      ort.report.alignment.groups.forEach((g, i) => expect(Math.abs(g.cost - tfjs.report.alignment.groups[i].cost)).toBeLessThanOrEqual(1e-4 * Math.abs(g.cost) + 1e-9));
      // The pair differs in depth: a depth alignment ran.
      expect(ort.report.alignment.mappings!.length).toBeGreaterThan(0);
    }, 120_000);
  }
});
