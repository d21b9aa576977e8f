/**
 * Records the calibration taps of a model with the active tensor backend
 * (the `record` hook of the fusion engine), remembering the last models it
 * recorded: CLA's deeper model A is the very object OT then uses as N0, and
 * recording a full-size CNN twice would double the slowest stage.
 */
import type { Model } from '@clafusion/model-format/arch';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { forward } from '../engine/nn/forward.ts';
import type { Tap } from '../engine/fusion/taps.ts';

/**
 * Samples per forward batch when recording a CNN: every tap of a batch is
 * held on the backend until the batch is read back, ~4.6 MB per sample for a
 * ResNet34 at 32×32, so the MLP default of 256 would ask the wasm heap for
 * more than 1 GB.
 */
const CNN_RECORD_BATCH = 32;

export type TapRecorder = (model: Model) => Tap[];

export function createTapRecorder(calibration: Tensor32, activations: 'pre' | 'post'): TapRecorder {
  // Weak keys: a recorded model that is no longer referenced frees its taps.
  const cache = new WeakMap<Model, Tap[]>();
  return (model) => {
    const hit = cache.get(model);
    if (hit) return hit;
    const batchSize = model.arch.family === 'mlp' ? undefined : CNN_RECORD_BATCH;
    const { taps, tapShapes } = forward(model, calibration, { taps: true, activations, batchSize });
    const out = taps!.map((data, k) => ({ data, shape: tapShapes![k] }));
    cache.set(model, out);
    return out;
  };
}
