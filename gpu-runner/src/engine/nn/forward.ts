/**
 * Batched forward passes with optional taps (the per-layer values that CLA
 * and OTFusion compare, docs/algorithm.md §2.2).
 *
 * Parameters are uploaded once per call; each batch runs inside tf.tidy, and
 * its results are copied into host arrays before the next batch, so device
 * memory holds one batch of activations at a time and nothing outlives the
 * call.
 */
import * as tf from '@tensorflow/tfjs';
import { type Arch, type Model, validateParams } from '@clafusion/model-format/arch';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { checkBatchSize, inputLayout } from './data.ts';
import { type LayerAdjust, familyNet } from './families.ts';
import { tapShapes } from './layers.ts';
import { uploadParams } from './params.ts';

/** Samples per batch when the caller does not say: large enough to keep matMuls efficient, small enough for wasm memory. */
export const DEFAULT_BATCH_SIZE = 256;

export interface ForwardOptions {
  /** Also return the per-layer recorded values. */
  taps?: boolean;
  /**
   * 'pre' (default): every tap is the module output before its ReLU, the
   * official code's behaviour with `--prelu-acts`. 'post': ReLU is applied to
   * every tap except the last (the logits), the behaviour without it.
   */
  activations?: 'pre' | 'post';
  batchSize?: number;
  /**
   * Sees every layer's own output and may replace it (families.ts
   * LayerAdjust). The whole of `x` then runs as one batch, so the hook sees
   * every sample of a layer before any later layer is computed (`batchSize`
   * is ignored): a hook that derives a correction from a layer's statistics
   * applies it to all samples alike.
   */
  adjust?: LayerAdjust;
}

export interface ForwardResult {
  /** [N, classes] row-major logits (before log-softmax). */
  logits: Float32Array;
  classes: number;
  /**
   * When requested: one entry per weight tensor in parameter order, entry k
   * [N, tapWidths[k]] row-major; the last entry equals the logits.
   */
  taps?: Float32Array[];
  tapWidths?: number[];
  /**
   * With taps: each tap's per-sample shape, [C, H, W] for a conv layer (its
   * tap is that map flattened in C,H,W order) and [width] for a linear one;
   * tapWidths[k] is the product of tapShapes[k]. See layers.ts tapShapes.
   */
  tapShapes?: number[][];
}

/** Runs `model` on `x` ([N, ...input], C,H,W order per sample). */
export function forward(model: Model, x: Tensor32, options: ForwardOptions = {}): ForwardResult {
  validateParams(model.arch, model.params);
  const params = uploadParams(model);
  try {
    return forwardWith(model.arch, params, x, options);
  } finally {
    tf.dispose(params);
  }
}

/**
 * The network's returned value per sample, [N, classes]: log-softmax for the
 * MLP, logits for CNN families (see FamilyNet.output). This is what the
 * prediction ensemble averages.
 */
export function modelOutput(model: Model, x: Tensor32, options: { batchSize?: number } = {}): Float32Array {
  validateParams(model.arch, model.params);
  const params = uploadParams(model);
  const net = familyNet(model.arch);
  try {
    const { logits } = forwardWith(model.arch, params, x, {
      batchSize: options.batchSize,
      transform: (l) => net.output(model.arch, l),
    });
    return logits;
  } finally {
    tf.dispose(params);
  }
}

/**
 * forward() on parameters that are already on the backend (paramSpecs order),
 * e.g. the variables of a model being trained. `transform` post-processes the
 * logits before they are read back.
 */
export function forwardWith(
  arch: Arch,
  params: readonly tf.Tensor[],
  x: Tensor32,
  options: ForwardOptions & { transform?: (logits: tf.Tensor2D) => tf.Tensor2D } = {},
): ForwardResult {
  const { n, features } = inputLayout(arch, x);
  const batchSize = options.adjust !== undefined ? Math.max(1, n) : checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
  const activations = options.activations ?? 'pre';
  const wantTaps = options.taps === true;
  const net = familyNet(arch);
  const classes = arch.classes;
  const logits = new Float32Array(n * classes);
  const taps: Float32Array[] = [];
  const tapWidths: number[] = [];

  for (let start = 0; start < n; start += batchSize) {
    const rows = Math.min(batchSize, n - start);
    tf.tidy(() => {
      // subarray is a view: the batch is uploaded without an extra host copy.
      const xb = tf.tensor2d(x.data.subarray(start * features, (start + rows) * features), [rows, features]);
      const out = net.apply(arch, params, xb, { record: wantTaps, adjust: options.adjust });
      const result = options.transform === undefined ? out.logits : options.transform(out.logits);
      logits.set(result.dataSync(), start * classes);
      if (!wantTaps) return;
      out.taps.forEach((tap, k) => {
        const width = tap.shape[1];
        if (taps[k] === undefined) {
          taps[k] = new Float32Array(n * width);
          tapWidths[k] = width;
        }
        const isLast = k === out.taps.length - 1;
        const value = activations === 'post' && !isLast ? tf.relu(tap) : tap;
        taps[k].set(value.dataSync(), start * width);
      });
    });
  }
  return wantTaps ? { logits, classes, taps, tapWidths, tapShapes: tapShapes(arch) } : { logits, classes };
}
