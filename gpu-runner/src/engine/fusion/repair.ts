/**
 * REPAIR-style renormalisation of a fused pair (Jordan et al., "REPAIR:
 * REnormalizing Permuted Activations for Interpolation Repair", 2022),
 * beyond the official CLAFusion code.
 *
 * Averaging two aligned channels that are not perfectly correlated shrinks
 * the variance of their sum, and the shrinkage compounds with depth. REPAIR
 * sets every fused channel's pre-activation mean and standard deviation to
 * the interpolation of the parents':
 *
 *   μ_t_j = (1 − w)·Σ_i T̃_ij μ⁰_i + w·μ¹_j,   σ_t_j likewise,
 *
 * with T̃ the corrected transport map of the layer (columns sum to ≈ 1, so
 * Σ_i T̃_ij μ⁰_i is N0's statistic carried into N1's basis) and w the
 * weight of N1; for K models the sum runs over every model aligned onto the
 * anchor (interpolatedTargets). Statistics are over the calibration samples
 * (the rows the fusion used) and positions. Every layer is corrected, the
 * classifier too: fused logits collapse like any channel (on a trained VGG
 * pair of different depths, logit std 0.5 against the parents' ≈ 5, and
 * correcting the hidden layers alone recovers little). A layer's own output is
 * corrected (for a ResNet conv2: its branch, block sum minus shortcut, so a
 * block's sum is never corrected twice), affinely, through the parameters
 * the architecture has:
 *
 * - with BatchNorm: γ ← γ·σ_t/σ and β ← (β − μ)·σ_t/σ + μ_t;
 * - with a bias and no BatchNorm: W ← W·σ_t/σ (rows) and b ← (b − μ)·σ_t/σ
 *   + μ_t;
 * - with neither biases nor BatchNorm (the paper's own VGGs and ResNets):
 *   the model first gains zero biases on every layer (`arch.bias` becomes
 *   true; PyTorch's names for a model built with bias=True), then as above;
 * - a layer without a bias in a BatchNorm model (a VGG's hidden FC layers
 *   when only the convs have BN): the scale alone.
 *
 * BatchNorm layers are corrected together from one measurement, and the
 * running statistics re-estimated after (BatchNorm's eps leaves the output
 * std a hair under the target, √(v/(v + eps))). Layers without BatchNorm
 * are then corrected one at a time in forward order, each measured with the
 * corrections before it applied, since every correction changes what the
 * layers after it see; all in one forward pass over the calibration set
 * (nn/forward.ts `adjust`: the hook corrects each layer's output on the way),
 * which holds the calibration set as one batch. Re-estimate the statistics
 * before REPAIR.
 *
 * Depth-aligned models need nothing special: the targets come from the
 * balanced models, so an identity layer inserted into one has as target
 * statistics what its input had, and a zero block's branch (constant 0)
 * contributes 0 to the interpolation.
 */
import * as tf from '@tensorflow/tfjs';
import { type Arch, type Model, type Params, layerSpecs, makeModel } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { forward } from '../nn/forward.ts';
import { hasBatchNorm, reestimateBatchNorm } from './bn-statistics.ts';

export interface ChannelStats {
  mean: Float64Array;
  std: Float64Array;
}

export interface RepairInput {
  /** The fused model (N1's architecture), BatchNorm statistics already re-estimated if it has any. */
  fused: Model;
  /** The balanced pair the fused model came from. */
  n0: Model;
  n1: Model;
  /** Per layer, T̃ (rows(N0) × cols(N1), row-major); null or absent means the identity (plain averaging). */
  transports: readonly (Float64Array | null)[];
  /** Weight of N1 in the interpolation. */
  weightN1: number;
  /** Calibration inputs [N, ...input]. */
  x: Tensor32;
}

/**
 * Per layer (the classifier's logits last), the statistics of the layer's own
 * pre-activation output over the calibration samples and positions: after
 * bias and BatchNorm, before the ReLU; for a ResNet conv2 its branch, not the
 * block sum (families.ts LayerAdjust). One forward pass, `x` as one batch.
 */
export function ownOutputStats(model: Model, x: Tensor32): ChannelStats[] {
  const stats: ChannelStats[] = [];
  forward(model, x, {
    adjust: (l, own) => {
      stats[l] = lastAxisStats(own.dataSync(), own.shape[own.rank - 1]);
      return own;
    },
  });
  return stats;
}

/** Per-channel mean and (population) std of values whose last axis is the channel, accumulated in float64. */
function lastAxisStats(values: ArrayLike<number>, channels: number): ChannelStats {
  const count = values.length / channels;
  const mean = new Float64Array(channels);
  const sq = new Float64Array(channels);
  for (let i = 0; i < values.length; i += channels) for (let c = 0; c < channels; c++) mean[c] += values[i + c];
  for (let c = 0; c < channels; c++) mean[c] /= count;
  for (let i = 0; i < values.length; i += channels) for (let c = 0; c < channels; c++) sq[c] += (values[i + c] - mean[c]) ** 2;
  return { mean, std: sq.map((v) => Math.sqrt(v / count)) };
}

/** One parent of a fusion: its balanced model, its per-layer maps into the fused basis, and its fusion weight. */
export interface RepairParent {
  model: Model;
  /** Per layer, T̃ (rows(parent) × cols(fused), row-major); null, absent or an empty list means the identity (same basis). */
  transports: readonly (Float64Array | null)[];
  weight: number;
}

/**
 * The interpolated target statistics per layer (classifier included) for any number of
 * parents: Σ_k w_k · T̃_kᵀ s_k, each parent's statistics carried into the
 * fused basis through its maps (weights normalised to sum to 1). With two
 * parents this is repairTargets; with K models the anchor enters with no maps
 * (fuse-many.ts aligns every other model onto it).
 */
export function interpolatedTargets(parents: readonly RepairParent[], x: Tensor32): ChannelStats[] {
  if (parents.length === 0) throw new FusionError('INVALID_ARGUMENT', 'REPAIR needs at least one parent model', { field: 'repair' });
  const total = parents.reduce((s, p) => s + p.weight, 0);
  if (!(total > 0)) throw new FusionError('INVALID_ARGUMENT', 'REPAIR needs positive fusion weights', { field: 'weights' });
  let out: ChannelStats[] | null = null;
  parents.forEach((parent, k) => {
    const stats = ownOutputStats(parent.model, x);
    const w = parent.weight / total;
    const carried = stats.map((s, l) => {
      const T = parent.transports[l] ?? null;
      const width = out ? out[l].mean.length : T === null ? s.mean.length : T.length / s.mean.length;
      if (T === null && s.mean.length !== width) {
        throw new FusionError('INVALID_ARGUMENT', `REPAIR needs the transport map of layer ${l + 1} for model ${k + 1} (${s.mean.length} vs ${width} channels)`);
      }
      const carry = (v: Float64Array) => {
        if (T === null) return v;
        const o1 = T.length / v.length;
        const r = new Float64Array(o1);
        for (let i = 0; i < v.length; i++) for (let j = 0; j < o1; j++) r[j] += T[i * o1 + j] * v[i];
        return r;
      };
      return { mean: carry(s.mean), std: carry(s.std) };
    });
    if (out === null) {
      out = carried.map((c) => ({ mean: c.mean.map((v) => w * v), std: c.std.map((v) => w * v) }));
    } else {
      const acc: ChannelStats[] = out;
      carried.forEach((c, l) => {
        if (c.mean.length !== acc[l].mean.length) {
          throw new FusionError('INVALID_ARGUMENT', `REPAIR: model ${k + 1} gives layer ${l + 1} ${c.mean.length} channels, the fused model has ${acc[l].mean.length}`);
        }
        for (let j = 0; j < c.mean.length; j++) {
          acc[l].mean[j] += w * c.mean[j];
          acc[l].std[j] += w * c.std[j];
        }
      });
    }
  });
  return out!;
}

/** The interpolated target statistics per layer of a pair: (1 − w)·T̃ᵀs⁰ + w·s¹. */
export function repairTargets(input: Omit<RepairInput, 'fused'>): ChannelStats[] {
  return interpolatedTargets(
    [
      { model: input.n0, transports: input.transports, weight: 1 - input.weightN1 },
      { model: input.n1, transports: [], weight: input.weightN1 },
    ],
    input.x,
  );
}

/**
 * The model with a bias on every layer (zeros where it had none): the
 * architecture's `bias` becomes true, so the tensors are named as PyTorch
 * names them for a model built with `bias=True`.
 */
export function withBiases(model: Model): Model {
  if (model.arch.bias) return model;
  const arch = { ...model.arch, bias: true } as Arch;
  const params: Params = new Map(model.params);
  for (const s of layerSpecs(arch)) if (!params.has(s.bias!)) params.set(s.bias!, { shape: [s.shape[0]], data: new Float32Array(s.shape[0]) });
  return makeModel(arch, params);
}

/** Returns the repaired fused model of a pair (see repairToTargets). */
export function repairFused(input: RepairInput): Model {
  return repairToTargets(input.fused, repairTargets(input), input.x);
}

/**
 * Moves every layer's own output (the logits too) to its target statistics. A model
 * with neither biases nor BatchNorm first gains zero biases (withBiases): a
 * channel's mean can only move through one.
 */
export function repairToTargets(fused: Model, targets: readonly ChannelStats[], x: Tensor32): Model {
  let model = hasBatchNorm(fused.arch) ? fused : withBiases(fused);
  // Every layer, the classifier included: its logits collapse like any channel (a trained pair's fused VGG: logit std 0.5 against the parents' 5).
  const layers = layerSpecs(model.arch);
  if (targets.length !== layers.length) {
    throw new FusionError('INVALID_ARGUMENT', `REPAIR has targets for ${targets.length} layers, the fused model has ${layers.length}`);
  }
  // Multiplies output channel j of a tensor by a_j (and adds shift_j): rows of a weight, entries of a vector.
  const scale = (params: Params, name: string, channels: number, a: Float64Array, shift: Float64Array | null) => {
    const t = params.get(name)!;
    const per = t.data.length / channels;
    params.set(name, { shape: [...t.shape], data: Float32Array.from(t.data, (v, k) => v * a[Math.floor(k / per)] + (shift ? shift[Math.floor(k / per)] : 0)) });
  };
  if (hasBatchNorm(model.arch)) {
    // Every BatchNorm layer at once from one measurement, then fresh running
    // statistics: each BN normalises its input, so once the statistics are
    // re-estimated a correction upstream no longer moves a layer downstream.
    const current = ownOutputStats(model, x);
    const params: Params = new Map(model.params);
    layers.forEach((s, l) => {
      if (!s.bn) return;
      const { a, shift } = affine(current[l], targets[l]);
      scale(params, `${s.bn}.weight`, s.shape[0], a, null);
      scale(params, `${s.bn}.bias`, s.shape[0], a, shift);
    });
    model = reestimateBatchNorm(makeModel(model.arch, params), x);
  }
  // The other layers one at a time in forward order, each measured with the
  // corrections before it applied, since every correction changes what the
  // layers after it see: in one forward pass, the hook measures a layer's own
  // output, applies the correction to it (what the folded parameters will
  // compute, to float rounding) and hands the corrected value on.
  const corrections: { a: Float64Array; shift: Float64Array | null }[] = [];
  forward(model, x, {
    adjust: (l, own) => {
      const s = layers[l];
      if (s.bn) return own;
      const { a, shift } = affine(lastAxisStats(own.dataSync(), s.shape[0]), targets[l]);
      // Without a bias (a VGG's hidden FC layers when only the convs have BatchNorm) only the scale moves.
      const applied = s.bias ? shift : null;
      corrections[l] = { a, shift: applied };
      const scaled = tf.mul(own, tf.tensor1d(Float32Array.from(a)));
      return applied === null ? scaled : tf.add(scaled, tf.tensor1d(Float32Array.from(applied)));
    },
  });
  const params: Params = new Map(model.params);
  corrections.forEach(({ a, shift }, l) => {
    const s = layers[l];
    scale(params, s.weight, s.shape[0], a, null);
    if (shift !== null) scale(params, s.bias!, s.shape[0], a, shift);
  });
  model = makeModel(model.arch, params);
  return model;
}

/**
 * The per-channel map y ↦ a·y + shift taking (μ, σ) to (μ_t, σ_t): a = σ_t/σ,
 * shift = μ_t − a·μ. A channel (nearly) constant on the calibration set,
 * σ ≤ 10⁻³·σ_t, keeps its scale and is only shifted: scaling it up would
 * blow noise up into a full-size channel.
 */
function affine(current: ChannelStats, target: ChannelStats): { a: Float64Array; shift: Float64Array } {
  const a = current.std.map((s, j) => (s > 1e-3 * target.std[j] + 1e-12 ? target.std[j] / s : 1));
  const shift = target.mean.map((m, j) => m - a[j] * current.mean[j]);
  return { a, shift };
}
