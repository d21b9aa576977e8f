/**
 * Re-estimating a fused model's BatchNorm running statistics on the
 * calibration samples. Fusion averages the parents' running means and
 * variances (aligned like biases), but those describe the parents'
 * activations, not the fused network's, whose channels are averages of
 * differently scaled channels; evaluated with them, a fused BN model can
 * fall to chance. The official code never fuses these statistics at all
 * (docs/algorithm.md §12 item 1).
 *
 * The new statistics are those of a training-mode forward (engine/nn's
 * BatchNorm, batch statistics at every layer) over the calibration set: the
 * mean and the unbiased variance PyTorch keeps, over samples and positions.
 * When the set fits one batch (the default 200 samples do) they are exact,
 * and evaluating with them computes what that training-mode pass computed.
 * Larger sets are taken in batches and pooled (mean of the whole set; the
 * variance with the between-batch term), as PyTorch's cumulative
 * `momentum=None` recalibration does with per-batch statistics.
 */
import * as tf from '@tensorflow/tfjs';
import { type Arch, type Model, type Params, layerSpecs, makeModel } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { type Tensor32, numel } from '@clafusion/model-format/tensor';
import { BN_MOMENTUM } from '../nn/batchnorm.ts';
import { inputLayout } from '../nn/data.ts';
import { familyNet } from '../nn/families.ts';
import { layerParams, tapShapes } from '../nn/layers.ts';
import { uploadParams } from '../nn/params.ts';

/** Samples per training-mode batch; 256 keeps the default 200 calibration samples in one exact batch. */
export const BN_BATCH = 256;

export function hasBatchNorm(arch: Arch): boolean {
  return layerSpecs(arch).some((s) => s.bn !== undefined);
}

interface Moments {
  count: number;
  mean: Float64Array;
  /** Σ (x − mean)² over the values seen so far. */
  m2: Float64Array;
}

/** Returns a copy of `model` whose BatchNorm running statistics are those of `x` ([N, ...input]). */
export function reestimateBatchNorm(model: Model, x: Tensor32, batchSize = BN_BATCH): Model {
  const { arch } = model;
  if (!hasBatchNorm(arch)) return model;
  const { n, features } = inputLayout(arch, x, 'calibration x');
  const layers = layerParams(arch);
  const shapes = tapShapes(arch);
  // Running-stat position → (layer, which statistic).
  const owner = new Map<number, { layer: number; stat: 'mean' | 'var' }>();
  layers.forEach((l, k) => {
    if (l.bn) {
      owner.set(l.bn.runningMean, { layer: k, stat: 'mean' });
      owner.set(l.bn.runningVar, { layer: k, stat: 'var' });
    }
  });
  // Zero running statistics make each reported update momentum × (batch statistic).
  const zeroed: Params = new Map(model.params);
  for (const l of layers) {
    if (!l.bn) continue;
    for (const name of [`${l.spec.bn}.running_mean`, `${l.spec.bn}.running_var`]) {
      zeroed.set(name, { shape: [l.spec.shape[0]], data: new Float32Array(l.spec.shape[0]) });
    }
  }
  const params = uploadParams({ arch, params: zeroed });
  const net = familyNet(arch);
  const moments = new Map<number, Moments>();
  try {
    for (let start = 0; start < n; start += batchSize) {
      const rows = Math.min(batchSize, n - start);
      const batch: Map<number, { mean?: Float64Array; variance?: Float64Array }> = new Map();
      tf.tidy(() => {
        const xb = tf.tensor2d(x.data.subarray(start * features, (start + rows) * features), [rows, features]);
        for (const update of net.apply(arch, params, xb, { training: true }).runningStats) {
          const who = owner.get(update.index)!;
          const entry = batch.get(who.layer) ?? {};
          const value = Float64Array.from(update.value.dataSync(), (v) => v / BN_MOMENTUM);
          if (who.stat === 'mean') entry.mean = value;
          else entry.variance = value;
          batch.set(who.layer, entry);
        }
      });
      for (const [layer, { mean, variance }] of batch) {
        const positions = numel(shapes[layer]) / shapes[layer][0];
        pool(moments, layer, rows * positions, mean!, variance!);
      }
    }
  } finally {
    tf.dispose(params);
  }
  const out: Params = new Map(model.params);
  layers.forEach((l, k) => {
    if (!l.bn) return;
    const m = moments.get(k);
    if (!m) throw new FusionError('INVALID_ARGUMENT', `BatchNorm ${l.spec.bn} received no statistics from the training-mode pass`, { tensor: l.spec.bn });
    const c = l.spec.shape[0];
    out.set(`${l.spec.bn}.running_mean`, { shape: [c], data: Float32Array.from(m.mean) });
    out.set(`${l.spec.bn}.running_var`, { shape: [c], data: Float32Array.from(m.m2, (v) => v / (m.count - 1)) });
  });
  return makeModel(arch, out);
}

/** Chan et al.'s pairwise update: merges a batch's count, mean and unbiased variance into the running moments. */
function pool(moments: Map<number, Moments>, layer: number, count: number, mean: Float64Array, unbiased: Float64Array): void {
  const m2b = unbiased.map((v) => v * (count - 1));
  const prev = moments.get(layer);
  if (!prev) {
    moments.set(layer, { count, mean: Float64Array.from(mean), m2: m2b });
    return;
  }
  const total = prev.count + count;
  for (let c = 0; c < mean.length; c++) {
    const delta = mean[c] - prev.mean[c];
    prev.mean[c] += (delta * count) / total;
    prev.m2[c] += m2b[c] + (delta * delta * prev.count * count) / total;
  }
  prev.count = total;
}
