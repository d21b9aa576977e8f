/**
 * Records the calibration taps of a model with the active tensor backend
 * (the `record` hook of the fusion engine), remembering the last models it
 * recorded: CLA's deeper model A is the very object OT then uses as N0, and
 * recording a full-size CNN twice would double the slowest stage.
 *
 * CNNs record on onnxruntime (record-taps-onnx.ts) unless told to use tfjs
 * or onnxruntime-node cannot be loaded; MLPs always on tfjs. With `threads`
 * > 1 (onnxruntime, or tfjs on the wasm backend), a CNN's samples are split
 * over that many recording threads (record-taps-pool.ts); the taps are the
 * same bits either way. The two runtimes agree to float32 rounding, not bit
 * for bit.
 */
import type { Model } from '@clafusion/model-format/arch';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import * as tf from '@tensorflow/tfjs';
import { forward } from '../engine/nn/forward.ts';
import type { Tap } from '../engine/fusion/taps.ts';
import { FusionError } from '@clafusion/model-format/errors';
import type { RecordRuntime } from '../runtime/record-runtime.ts';
import { RecordPool } from './record-taps-pool.ts';
import { ORT_WORKER_RECORD_BATCH, loadOnnxRuntime, recordTapsOnnx } from './record-taps-onnx.ts';

/**
 * Samples per forward batch when recording a CNN: every tap of a batch is
 * held on the backend until the batch is read back, ~4.6 MB per sample for a
 * ResNet34 at 32×32, so the MLP default of 256 would ask the wasm heap for
 * more than 1 GB. Every intermediate of a batch lives until the batch is
 * read back and the wasm heap never shrinks, so the batch size sets the
 * heap's peak (ResNet34 ← ResNet18: 813 MiB at 32, 515 at 8), but smaller
 * batches run XNNPACK's convolutions slower (forward CPU time, 64 samples,
 * interleaved: ResNet34 8.9–9.9 s at 32, 10.3–10.6 at 16, 12.4–12.7 at 8;
 * VGG13_doub 8.0–8.4, 9.4–10.2, 11.6–13.7), so speed wins. Taps do not
 * depend on the batch size (record-taps-pool.test.ts).
 */
const CNN_RECORD_BATCH = 32;

export interface TapRecorder {
  (model: Model): Promise<Tap[]>;
  /** Ends the recording threads, if any were started. */
  close(): Promise<void>;
  /** Drops the cached taps of `model` (a later request records it again). */
  forget(model: Model): void;
  /** Which runtime recorded the CNNs so far, and its version; null before the first CNN recording. */
  readonly used: RecordingRuntime | null;
}

export interface RecordingRuntime {
  runtime: RecordRuntime;
  /** e.g. "onnxruntime-node 1.31.1 (CPU), 1 thread". */
  detail: string;
  /** Why onnxruntime was not used when it was the default: its load error. */
  fallback?: string;
}

export interface TapRecorderOptions {
  /** Threads to record CNNs on (default 1: the calling thread). */
  threads?: number;
  /**
   * Where CNNs record: 'onnxruntime' (an error if onnxruntime-node cannot
   * load), 'tfjs', or undefined: onnxruntime when it loads, else tfjs.
   */
  runtime?: RecordRuntime;
  /** Called once when onnxruntime was the default but could not be loaded, with the reason; recording goes on with tfjs. */
  onFallback?: (reason: string) => void;
}

export function createTapRecorder(calibration: Tensor32, activations: 'pre' | 'post', options: TapRecorderOptions = {}): TapRecorder {
  // Weak keys: a recorded model that is no longer referenced frees its taps.
  const cache = new WeakMap<Model, Promise<Tap[]>>();
  const threads = Math.min(options.threads ?? 1, calibration.shape[0]);
  let pool: RecordPool | null = null;
  let used: RecordingRuntime | null = null;
  let fallback: string | undefined;
  const threadsText = `${threads} thread${threads === 1 ? '' : 's'}`;
  /** onnxruntime, or null when CNNs record on tfjs (asked for, or onnxruntime failed to load by default). */
  const onnxRuntime = async () => {
    if (options.runtime === 'tfjs' || fallback !== undefined) return null;
    try {
      return await loadOnnxRuntime();
    } catch (err) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (options.runtime === 'onnxruntime') {
        throw new FusionError('INVALID_ARGUMENT', `record-runtime onnxruntime: onnxruntime-node cannot be loaded: ${reason}`, { field: 'record-runtime' });
      }
      fallback = reason;
      options.onFallback?.(reason);
      return null;
    }
  };
  const record = async (model: Model): Promise<Tap[]> => {
    const cnn = model.arch.family !== 'mlp';
    const ort = cnn ? await onnxRuntime() : null;
    if (ort !== null) {
      used = { runtime: 'onnxruntime', detail: `onnxruntime-node ${ort.env.versions.node ?? '?'} (CPU), ${threadsText}` };
      // One intra-op thread per session: its taps do not depend on the batch size, and with
      // more threads the samples are split over worker threads, so they do not depend on
      // the thread count either (intra-op threads change the bits of small batches).
      if (threads > 1) {
        // The backend name is unused: onnxruntime threads start no tfjs backend.
        pool ??= new RecordPool(threads, 'cpu');
        return pool.record(model, calibration, activations, ORT_WORKER_RECORD_BATCH, 'onnxruntime');
      }
      return recordTapsOnnx(ort, model, calibration, activations, { threads: 1 });
    }
    if (cnn) {
      const on = tf.getBackend() === 'wasm' ? `, ${threadsText}` : '';
      used = { runtime: 'tfjs', detail: `tfjs ${tf.getBackend()}${on}`, ...(fallback !== undefined ? { fallback } : {}) };
    }
    // Threads only pay for full forward passes of CNNs (starting one costs about a second),
    // and they run the wasm backend; the native backends use their own threads.
    if (cnn && threads > 1 && tf.getBackend() === 'wasm') {
      pool ??= new RecordPool(threads, 'wasm');
      return pool.record(model, calibration, activations, CNN_RECORD_BATCH);
    }
    const { taps, tapShapes } = forward(model, calibration, { taps: true, activations, batchSize: cnn ? CNN_RECORD_BATCH : undefined });
    return taps!.map((data, k) => ({ data, shape: tapShapes![k] }));
  };
  const recorder = (model: Model): Promise<Tap[]> => {
    let hit = cache.get(model);
    if (!hit) {
      hit = record(model);
      cache.set(model, hit);
      // A failed recording is not remembered.
      hit.catch(() => cache.delete(model));
    }
    return hit;
  };
  recorder.forget = (model: Model) => void cache.delete(model);
  recorder.close = async () => {
    const p = pool;
    pool = null;
    await p?.close();
  };
  Object.defineProperty(recorder, 'used', { get: () => used });
  return recorder as TapRecorder;
}
