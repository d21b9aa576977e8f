/**
 * Records a CNN's calibration taps on onnxruntime's CPU runtime
 * (onnxruntime-node): the model goes to ONNX with every tap as an extra
 * graph output (io/onnx-writer.ts), and one session runs the calibration
 * samples through it in batches.
 *
 * Why: tfjs-wasm's convolutions made the activations stage ~3.4× PyTorch's
 * batched forward pass on the full-size CNN pairs; onnxruntime's MLAS
 * convolutions are close to PyTorch's. The taps are the engine's values to
 * float32 rounding (a different summation order inside the convolutions),
 * not the same bits: record-taps-onnx.test.ts states the tolerance.
 *
 * The taps come back in the engine's layout (forward.ts): [N, width] per
 * tap, C,H,W order. A conv tap of a batch is the NCHW output [rows, C, H, W],
 * which is exactly rows `start…start+rows` of the [N, C·H·W] tap, so every
 * output is preallocated as a view of the final array and onnxruntime
 * writes there: no copy.
 */
import type { Model } from '@clafusion/model-format/arch';
import { type Tensor32, numel } from '@clafusion/model-format/tensor';
import type * as Ort from 'onnxruntime-node';
import type { Tap } from '../engine/fusion/taps.ts';
import { inputLayout } from '../engine/nn/data.ts';
import { tapShapes } from '../engine/nn/layers.ts';
import { ONNX_INPUT_NAME, serializeModelOnnxWithTaps } from '../io/onnx-writer.ts';

type OrtModule = typeof Ort;

/**
 * Samples per onnxruntime run. Outputs land in the final tap arrays, so the
 * batch size only bounds the intermediates onnxruntime holds that are not
 * taps (ReLU outputs, im2col buffers): recording ResNet34 and ResNet18 on
 * 200 samples peaked at 1962 MiB RSS with batches of 200, 1589 with 50 and
 * 1399 with 25, at the same CPU time within the noise (MLAS convolves one
 * image at a time). The taps do not depend on it (record-taps-onnx.test.ts).
 */
export const ORT_RECORD_BATCH = 25;

/**
 * Samples per onnxruntime run on a recording worker thread (more than one
 * thread). A worker's batch outputs land in scratch arrays and are copied
 * into the shared taps (onnxruntime-node refuses shared memory as an
 * output), so every worker holds a batch of every tap: ~110 MiB for
 * ResNet34 at 25 samples. With 8, recording ResNet34 ← ResNet18 on 2
 * threads peaked at 2188–2215 MiB RSS instead of 2398–2505, at the same
 * wall time and the same fused file (the taps do not depend on the batch).
 */
export const ORT_WORKER_RECORD_BATCH = 8;

let loading: Promise<OrtModule> | null = null;

/**
 * Loads onnxruntime-node (its native addon) once. Rejects when the package
 * or its addon is missing or cannot load on this platform; the caller falls
 * back to tfjs then.
 */
export function loadOnnxRuntime(): Promise<OrtModule> {
  loading ??= import('onnxruntime-node').then((mod) => {
    // CommonJS: the exports are named exports when Node detects them, and always `default`.
    const imported = mod as unknown as OrtModule & { default?: OrtModule };
    const ort = imported.InferenceSession === undefined && imported.default !== undefined ? imported.default : imported;
    if (typeof ort.InferenceSession?.create !== 'function') throw new Error('onnxruntime-node has no InferenceSession');
    return ort;
  });
  // A failed load is not remembered: the reason is reported once by the caller.
  loading.catch(() => (loading = null));
  return loading;
}

export interface OnnxRecordOptions {
  /**
   * onnxruntime's intra-op threads (default 1); inter-op is always 1,
   * execution sequential. The taps then depend on it for batches of fewer
   * samples than a few per thread (measured: 2 threads, 1–4 samples), so
   * the recorder uses 1 and splits samples over worker threads instead.
   */
  threads?: number;
  batchSize?: number;
}

/** The taps of `model` on `x` ([N, C, H, W]), as forward(model, x, { taps: true, activations }) records them, on onnxruntime. */
export async function recordTapsOnnx(
  ort: OrtModule,
  model: Model,
  x: Tensor32,
  activations: 'pre' | 'post',
  options: OnnxRecordOptions = {},
): Promise<Tap[]> {
  const n = x.shape[0];
  const taps: Tap[] = tapShapes(model.arch).map((shape) => ({ data: new Float32Array(n * numel(shape)), shape }));
  // Each batch's outputs are the batch's rows of the final arrays.
  await runOnnxBatches(ort, model, x, activations, options, (start, rows) =>
    taps.map((tap) => tap.data.subarray(start * (tap.data.length / n), (start + rows) * (tap.data.length / n))),
  );
  return taps;
}

/**
 * recordTapsOnnx for a writer into shared memory, which onnxruntime-node
 * refuses as an output ("Invalid argument"): each batch's taps land in
 * scratch arrays ([rows, width] each, reused between batches) and are handed
 * to `onBatch(start, rows, taps)`, valid until it returns.
 */
export async function recordTapsOnnxBatches(
  ort: OrtModule,
  model: Model,
  x: Tensor32,
  activations: 'pre' | 'post',
  options: OnnxRecordOptions,
  onBatch: (start: number, rows: number, taps: Float32Array[]) => void,
): Promise<void> {
  const widths = tapShapes(model.arch).map(numel);
  const batchSize = Math.min(recordBatch(options), x.shape[0]);
  const scratch = widths.map((w) => new Float32Array(batchSize * w));
  await runOnnxBatches(
    ort,
    model,
    x,
    activations,
    options,
    (_start, rows) => scratch.map((s, k) => s.subarray(0, rows * widths[k])),
    onBatch,
  );
}

/** Per-sample input shape of the ONNX graph: [C, H, W] for a CNN (arch.input is [H, W, C]). */
export function onnxInputDims(arch: Model['arch']): number[] {
  return arch.family === 'mlp' ? [...arch.input] : [arch.input[2], arch.input[0], arch.input[1]];
}

function recordBatch(options: OnnxRecordOptions): number {
  return Math.max(1, options.batchSize ?? ORT_RECORD_BATCH);
}

/**
 * Runs `x` through `model` with its taps as outputs, batch by batch;
 * `outputs(start, rows)` gives the arrays onnxruntime writes batch
 * [start, start + rows)'s taps into, [rows, width] each.
 */
async function runOnnxBatches(
  ort: OrtModule,
  model: Model,
  x: Tensor32,
  activations: 'pre' | 'post',
  options: OnnxRecordOptions,
  outputs: (start: number, rows: number) => Float32Array[],
  after?: (start: number, rows: number, taps: Float32Array[]) => void,
): Promise<void> {
  const { n, features } = inputLayout(model.arch, x, 'calibration x');
  const { bytes, tapOutputs } = serializeModelOnnxWithTaps(model, { taps: activations });
  const shapes = tapShapes(model.arch);
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // 'all' adds the NCHWc layout transforms: no faster here (ResNet34 ← ResNet18, 1 thread,
    // interleaved), and every tap output then needs a reorder buffer (+200 MiB peak).
    graphOptimizationLevel: 'extended',
    // Without the arena, memory onnxruntime frees goes back to the allocator instead of
    // staying reserved (ResNet pair: ~200 MiB lower peak, speed within the noise).
    enableCpuMemArena: false,
  });
  try {
    // The graph's input shape, whatever shape x has per sample (rows of C·H·W values are taken in C,H,W order, as forward.ts does).
    const inputDims = onnxInputDims(model.arch);
    const batchSize = recordBatch(options);
    for (let start = 0; start < n; start += batchSize) {
      const rows = Math.min(batchSize, n - start);
      const feeds = { [ONNX_INPUT_NAME]: new ort.Tensor('float32', x.data.subarray(start * features, (start + rows) * features), [rows, ...inputDims]) };
      const into = outputs(start, rows);
      const fetches: Record<string, Ort.Tensor> = {};
      tapOutputs.forEach((name, k) => (fetches[name] = new ort.Tensor('float32', into[k], [rows, ...shapes[k]])));
      await session.run(feeds, fetches);
      after?.(start, rows, into);
    }
  } finally {
    await session.release();
  }
}
