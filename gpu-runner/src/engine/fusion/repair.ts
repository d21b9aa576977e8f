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
 * weight of N1. A layer's own output is corrected (for a ResNet conv2: its
 * branch, block sum minus shortcut), affinely, through the parameters the
 * architecture has:
 *
 * - with BatchNorm: γ ← γ·σ_t/σ and β ← (β − μ)·σ_t/σ + μ_t;
 * - with a bias and no BatchNorm: W ← W·σ_t/σ (rows) and b ← (b − μ)·σ_t/σ
 *   + μ_t;
 * - with neither (a VGG's hidden FC layers when only convs have BN): the
 *   scale alone.
 *
 * BatchNorm layers are corrected together from one measurement, and the
 * running statistics re-estimated after (BatchNorm's eps leaves the output
 * std a hair under the target, √(v/(v + eps))). Layers without BatchNorm
 * are then corrected one at a time in forward order, re-measured before
 * each since every correction changes what the layers after it see: one
 * forward pass per such layer, which makes REPAIR of a deep bias-only model
 * slow. Re-estimate the statistics before REPAIR.
 *
 * Without either there is no parameter to move a channel's mean, and REPAIR
 * is refused. Statistics are over calibration samples and positions.
 */
import { type Model, type Params, layerSpecs, makeModel } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { type Tensor32, numel } from '@clafusion/model-format/tensor';
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
 * Per hidden layer, the statistics of the layer's own pre-activation output:
 * the recorded tap, except a ResNet conv2, whose tap is the block sum and
 * whose own output is that sum minus the shortcut's value.
 */
export function ownOutputStats(model: Model, x: Tensor32): ChannelStats[] {
  const { taps, tapShapes } = forward(model, x, { taps: true });
  const specs = layerSpecs(model.arch);
  const n = x.shape[0];
  let stream: Float32Array | null = null; // post-ReLU block input, for identity shortcuts
  const stats: ChannelStats[] = [];
  for (let l = 0; l < specs.length - 1; l++) {
    const s = specs[l];
    let own: ArrayLike<number> = taps![l];
    if (s.role === 'conv2') {
      const shortcut = specs[l + 1].role === 'shortcut' && specs[l + 1].block === s.block ? taps![l + 1] : stream!;
      own = Float32Array.from(taps![l], (v, k) => v - shortcut[k]);
    }
    stats.push(channelStats(own, n, tapShapes![l]));
    if (s.role === 'stem' || s.role === 'conv2') stream = Float32Array.from(taps![l], (v) => Math.max(0, v));
  }
  return stats;
}

function channelStats(values: ArrayLike<number>, n: number, shape: readonly number[]): ChannelStats {
  const C = shape[0];
  const S = numel(shape) / C;
  const mean = new Float64Array(C);
  const sq = new Float64Array(C);
  for (let s = 0; s < n; s++) {
    for (let c = 0; c < C; c++) {
      const base = (s * C + c) * S;
      for (let p = 0; p < S; p++) mean[c] += values[base + p];
    }
  }
  for (let c = 0; c < C; c++) mean[c] /= n * S;
  for (let s = 0; s < n; s++) {
    for (let c = 0; c < C; c++) {
      const base = (s * C + c) * S;
      for (let p = 0; p < S; p++) sq[c] += (values[base + p] - mean[c]) ** 2;
    }
  }
  return { mean, std: sq.map((v) => Math.sqrt(v / (n * S))) };
}

/** The interpolated target statistics per hidden layer. */
export function repairTargets(input: Omit<RepairInput, 'fused'>): ChannelStats[] {
  const s0 = ownOutputStats(input.n0, input.x);
  const s1 = ownOutputStats(input.n1, input.x);
  const w = input.weightN1;
  return s1.map((b, l) => {
    const a = s0[l];
    const T = input.transports[l] ?? null;
    const o0 = a.mean.length;
    const o1 = b.mean.length;
    if (T === null && o0 !== o1) {
      throw new FusionError('INVALID_ARGUMENT', `REPAIR needs the transport map of layer ${l + 1} (${o0} vs ${o1} channels)`);
    }
    const carry = (v: Float64Array) => {
      if (T === null) return v;
      const out = new Float64Array(o1);
      for (let i = 0; i < o0; i++) for (let j = 0; j < o1; j++) out[j] += T[i * o1 + j] * v[i];
      return out;
    };
    const ma = carry(a.mean);
    const sa = carry(a.std);
    return { mean: b.mean.map((v, j) => (1 - w) * ma[j] + w * v), std: b.std.map((v, j) => (1 - w) * sa[j] + w * v) };
  });
}

/** Returns the repaired fused model. */
export function repairFused(input: RepairInput): Model {
  const { fused, x } = input;
  const specs = layerSpecs(fused.arch);
  const hidden = specs.slice(0, -1);
  if (!hasBatchNorm(fused.arch) && !fused.arch.bias) {
    throw new FusionError(
      'UNSUPPORTED',
      'REPAIR needs biases or BatchNorm to shift channel means, and this architecture has neither; fuse without --repair',
      { field: 'repair' },
    );
  }
  const targets = repairTargets(input);
  let model = fused;
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
    hidden.forEach((s, l) => {
      if (!s.bn) return;
      const { a, shift } = affine(current[l], targets[l]);
      scale(params, `${s.bn}.weight`, s.shape[0], a, null);
      scale(params, `${s.bn}.bias`, s.shape[0], a, shift);
    });
    model = reestimateBatchNorm(makeModel(model.arch, params), x);
  }
  hidden.forEach((s, l) => {
    if (s.bn) return;
    // One layer at a time, re-measured before each: every correction changes the later layers' inputs.
    const { a, shift } = affine(ownOutputStats(model, x)[l], targets[l]);
    const params: Params = new Map(model.params);
    scale(params, s.weight, s.shape[0], a, null);
    // Without a bias (a VGG's hidden FC layers when only the convs have BatchNorm) only the scale moves.
    if (s.bias) scale(params, s.bias, s.shape[0], a, shift);
    model = makeModel(model.arch, params);
  });
  return model;
}

/**
 * The per-channel map y ↦ a·y + shift taking (μ, σ) to (μ_t, σ_t): a = σ_t/σ,
 * shift = μ_t − a·μ. A constant channel (σ = 0) keeps its scale and is only shifted.
 */
function affine(current: ChannelStats, target: ChannelStats): { a: Float64Array; shift: Float64Array } {
  const a = current.std.map((s, j) => (s > 1e-12 ? target.std[j] / s : 1));
  const shift = target.mean.map((m, j) => m - a[j] * current.mean[j]);
  return { a, shift };
}
