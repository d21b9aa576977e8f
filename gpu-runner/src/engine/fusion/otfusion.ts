/**
 * Layer-wise OTFusion (docs/algorithm.md §7.2–§7.3): align the neurons of N0 onto
 * those of N1 layer by layer with optimal transport, then average. The result
 * has N1's architecture, widths and neuron order.
 *
 * Layers are described generically (a weight of shape [o, i] or
 * [o, i, kh, kw], an optional bias and BatchNorm, and for activation-based
 * fusion the neuron rows of both models), so the same loop serves MLPs and
 * CNNs: a map acts on the input-channel axis at every kernel position, and
 * on the channel axis of a classifier reading a flattened conv map.
 *
 * Degenerate layers (§7.7): when a row of M is constant — the conv1 of a
 * zero block inserted into a ResNet B′ (its activations are all 0), or dead
 * neurons before an inserted identity — every plan with the right marginals
 * is optimal and the exact solver returns one vertex of that face, which
 * depends on solver internals (POT's choice even changed between float32
 * and float64 inputs). For equal widths every vertex is a permutation that
 * permutes the block's conv1 outputs and conv2 inputs consistently, so the
 * fused function is the same whichever is returned (tested by fusing a
 * channel-permuted A, which makes the solver pick another vertex). For
 * unequal widths different vertices pair different channels and the fused
 * function genuinely differs; only the plan's cost is reproducible there.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { type Tensor32, shapeString } from '@clafusion/model-format/tensor';
import { matmulTransA } from '../linalg.ts';
import { type GroundMetricOptions, type Rows, groundMetric } from './ground-metric.ts';
import type { RowMatrix } from './row-products.ts';
import { type OtSolver, correctByColumnMass, correctByNominalMass, transportPlan } from './transport.ts';

/** A BatchNorm's per-channel vectors, in the order of arch.ts BN_SUFFIXES. */
export type BnVectors<T> = [weight: T, bias: T, runningMean: T, runningVar: T];

/**
 * A layer's part in a residual block, for skip handling (§7.3): `downsample`
 * is the first conv of a block whose shortcut is a conv (the map at the
 * block input is kept for the shortcut), `shortcut` that 1×1 conv, `plain`
 * anything else.
 */
export type ResidualRole = 'downsample' | 'shortcut' | 'plain';

export interface FusionLayer {
  /** Canonical name of the weight, used in messages and reports. */
  name: string;
  weight: Tensor32;
  bias?: Tensor32;
  /** The BatchNorm after the layer; its vectors are aligned like the bias. */
  bn?: BnVectors<Tensor32>;
  /**
   * From the architecture when known. Without it the role is inferred from
   * N0's weight shape as the official code does (in ≠ out and 3×3 →
   * downsample, in ≠ out and 1×1 → shortcut), which misreads a block that
   * down-samples without changing the width (§12 item 3).
   */
  residual?: ResidualRole;
}

/** Neuron rows of one layer: [width, features] row-major. */
export interface NeuronRows {
  readonly data: Rows;
  readonly width: number;
  readonly features: number;
  /** The rows without a row-major copy, when the source can be read in place (taps.ts). */
  matrix?(): RowMatrix;
  /** Drops the reference to the values (they are not read again). */
  release?(): void;
}

export interface OtFusionOptions {
  /** Ground metric on activations (`acts`) or on input-aligned weights (`wts`). */
  alignment: 'activations' | 'weights';
  groundMetric: GroundMetricOptions;
  solver: OtSolver;
  /** Divide the plan by its column masses (`--correction`). */
  correction: boolean;
  /** Apply T̃ᵀ to the input-aligned weights (`--past-correction`). */
  pastCorrection: boolean;
  /** Weight of N1 in the average (`ensemble_step`, default 0.5). */
  weightN1: number;
  /** `average` skips OT on the output layer (`--skip-last-layer`). */
  outputLayer: 'align' | 'average';
  /** Shortcut-aware reuse of maps for residual networks (`--handle-skips`). */
  handleSkips: boolean;
  /** Calibration sample count t, used by the ground metric's 1/t. */
  samples: number;
}

export interface LayerFusionResult {
  name: string;
  /** The aligned N0 weight Y = T̃ᵀ Ŵ0 in N1's basis (float64, N1's shape). */
  aligned: Float64Array;
  alignedBias?: Float64Array;
  /** T̃ᵀ·v for the BatchNorm vectors (running statistics included). */
  alignedBn?: BnVectors<Float64Array>;
  /** The averaged weight (absent in `alignOnly` mode). */
  fused?: Tensor32;
  fusedBias?: Tensor32;
  fusedBn?: BnVectors<Tensor32>;
  /** The corrected map T̃ (o0 × o1), or null for an output layer that was only averaged. */
  transport: Float64Array | null;
  rows: number;
  cols: number;
  /** Transport cost ⟨T, M⟩ of the uncorrected plan. */
  cost: number | null;
  /**
   * The layers whose T̃ aligned this layer's inputs (averaged when two):
   * [l − 1] normally; with skip handling a shortcut reads the block input's
   * map and the layer after it averages two (§7.3). Empty for the first layer.
   */
  inputFrom: number[];
}

/** A corrected map applied to a layer's inputs, and which layers' maps it came from. */
interface InputMap {
  T: Float64Array;
  rows: number;
  cols: number;
  from: number[];
}

export interface OtFusionInput {
  layers0: readonly FusionLayer[];
  layers1: readonly FusionLayer[];
  /** Per-layer neuron rows; required for activation-based alignment. */
  acts0?: readonly NeuronRows[];
  acts1?: readonly NeuronRows[];
  /** Called after each layer (for progress). */
  onLayer?: (index: number, total: number, name: string) => void;
  /** Return aligned weights only, without averaging (`not_avg`, for K models). */
  alignOnly?: boolean;
  /**
   * Let go of each layer's neuron rows once its ground metric is computed
   * (NeuronRows.release), so that recorded taps are freed as fusion goes
   * instead of all living to the end (ResNet34: ~0.8 GB at t = 200).
   */
  releaseActivations?: boolean;
}

const f32 = Math.fround;

export function otFusion(input: OtFusionInput, options: OtFusionOptions): LayerFusionResult[] {
  const { layers0, layers1 } = input;
  if (layers0.length !== layers1.length) {
    throw new FusionError(
      'INCOMPATIBLE_MODELS',
      `OT fusion needs the same number of weight tensors, got ${layers0.length} and ${layers1.length}`,
    );
  }
  if (options.alignment === 'activations' && (!input.acts0 || !input.acts1)) {
    throw new FusionError('INVALID_ARGUMENT', 'activation-based alignment needs the activations of both models');
  }
  const results: LayerFusionResult[] = [];
  let Tprev: Float64Array | null = null;
  let prevRows = 0;
  let prevCols = 0;
  // Skip state of §7.3.
  let skipT: InputMap | null = null;
  let resT: InputMap | null = null;
  let resIdx = -1;
  const L = layers0.length;

  for (let l = 0; l < L; l++) {
    const { weight: W0, bias: b0, name } = layers0[l];
    const { weight: W1 } = layers1[l];
    if ((layers0[l].bn === undefined) !== (layers1[l].bn === undefined)) {
      throw new FusionError('INCOMPATIBLE_MODELS', `layer ${name}: one model has a BatchNorm after it and the other does not`, { tensor: name });
    }
    if (W0.shape.length !== W1.shape.length || W0.shape.slice(2).join() !== W1.shape.slice(2).join()) {
      throw new FusionError(
        'INCOMPATIBLE_MODELS',
        `layer ${name}: weights of shape ${shapeString(W0.shape)} and ${shapeString(W1.shape)} cannot be fused`,
        { tensor: name },
      );
    }
    const o0 = W0.shape[0];
    const o1 = W1.shape[0];
    const i1 = W1.shape[1];

    // Step 2: align the inputs (Ŵ0 has N1's input dimension).
    let R: InputMap | null = null;
    if (l > 0 && Tprev) {
      R = { T: Tprev, rows: prevRows, cols: prevCols, from: [l - 1] };
      // Skip handling acts on conv layers only (§7.3): a linear layer reads T_prev as is.
      const role = options.handleSkips && W0.shape.length === 4 ? (layers0[l].residual ?? officialResidualRole(W0)) : null;
      if (role === 'downsample') {
        skipT = R;
      } else if (role === 'shortcut') {
        // R is the T̃ of the block's conv2; the shortcut reads the block input.
        resT = R;
        resIdx = l;
        if (!skipT) throw new FusionError('INCOMPATIBLE_MODELS', `shortcut ${name} comes before any down-sampling conv`, { tensor: name });
        R = skipT;
      } else if (role === 'plain' && resT && resIdx === l - 1) {
        // The block output is conv2 + shortcut: average the two maps.
        R = averageMaps(R, resT);
      }
    }
    const What0 = R ? alignInputs(W0, R, name) : Float64Array.from(W0.data);
    const inner = What0.length / o0; // = i1·kh·kw once aligned
    if (inner * o1 !== W1.data.length) {
      throw new FusionError(
        'INCOMPATIBLE_MODELS',
        `layer ${name}: after aligning its inputs, ${shapeString(W0.shape)} does not match ${shapeString(W1.shape)}`,
        { tensor: name },
      );
    }
    const isOutput = l === L - 1;

    if (isOutput && options.outputLayer === 'average') {
      // `--skip-last-layer`: no OT, the classes are already in the same order.
      if (o0 !== o1) throw new FusionError('INCOMPATIBLE_MODELS', `output layers have ${o0} and ${o1} classes`);
      const alignedBias = b0 ? Float64Array.from(b0.data) : undefined;
      const alignedBn = layers0[l].bn?.map((v) => Float64Array.from(v.data)) as BnVectors<Float64Array> | undefined;
      results.push({ ...finish(name, What0, alignedBias, alignedBn, layers1[l], null, o0, o1, null, options.weightN1, input.alignOnly), inputFrom: R?.from ?? [] });
      input.onLayer?.(l, L, name);
      continue;
    }

    // Step 3: ground metric.
    let M;
    if (options.alignment === 'activations') {
      const a0 = input.acts0![l];
      const a1 = input.acts1![l];
      if (a0.width !== o0 || a1.width !== o1 || a0.features !== a1.features) {
        throw new FusionError('SHAPE_MISMATCH', `layer ${name}: activations do not match the weights`, { tensor: name });
      }
      M = groundMetric(a0.matrix?.() ?? a0.data, o0, a1.matrix?.() ?? a1.data, o1, a0.features, options.samples, options.groundMetric);
      if (input.releaseActivations) {
        a0.release?.();
        a1.release?.();
      }
    } else {
      M = groundMetric(What0, o0, Float64Array.from(W1.data), o1, inner, options.samples, options.groundMetric);
    }

    // Steps 4–6: plan, float32 cast, correction.
    const T = transportPlan(M, options.solver);
    let cost = 0;
    for (let i = 0; i < T.length; i++) cost += T[i] * M.data[i];
    let Tc = T;
    if (options.correction) {
      Tc = options.alignment === 'activations' ? correctByColumnMass(T, o0, o1) : correctByNominalMass(T, o1);
    }

    // Step 7: align the outputs, Y = T̃ᵀ · flat(Ŵ0).
    let source = What0;
    if (!options.pastCorrection) {
      if (W0.data.length / o0 !== inner) {
        throw new FusionError('INVALID_ARGUMENT', `layer ${name}: without past correction the input widths must already agree`);
      }
      source = Float64Array.from(W0.data);
    }
    const Y = matmulTransA(Tc, source, o0, o1, inner);
    // 1-D parameters follow their layer's map (§7.2 step 2): T̃ᵀ·v.
    const alignedBias = b0 ? matmulTransA(Tc, b0.data, o0, o1, 1) : undefined;
    const alignedBn = layers0[l].bn?.map((v) => matmulTransA(Tc, v.data, o0, o1, 1)) as BnVectors<Float64Array> | undefined;
    results.push({ ...finish(name, Y, alignedBias, alignedBn, layers1[l], Tc, o0, o1, cost, options.weightN1, input.alignOnly), inputFrom: R?.from ?? [] });

    // Step 9: carry the state.
    Tprev = Tc;
    prevRows = o0;
    prevCols = o1;
    input.onLayer?.(l, L, name);
  }
  return results;
}

/** Applies R (rows(R) × cols(R)) to the input-channel axis of W0 viewed as [o, C, S]. */
export function alignInputs(W0: Tensor32, R: Omit<InputMap, 'from'>, name: string): Float64Array {
  const o = W0.shape[0];
  const perRow = W0.data.length / o;
  const C0 = R.rows;
  if (perRow % C0 !== 0) {
    throw new FusionError(
      'INCOMPATIBLE_MODELS',
      `layer ${name}: input width ${W0.shape[1]} does not match the previous layer's ${C0} neurons`,
      { tensor: name },
    );
  }
  const S = perRow / C0;
  const C1 = R.cols;
  const out = new Float64Array(o * C1 * S);
  // A map is mostly zeros (a transport plan has at most C0 + C1 − 1 non-zero
  // entries), so its non-zeros are listed once per row i instead of scanning
  // all C0·C1 entries for every output row. Each out[o, j, s] still receives
  // its terms in increasing i, so the sums are the same bits.
  const starts = new Int32Array(C0 + 1);
  const cols: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < C0; i++) {
    for (let j = 0; j < C1; j++) {
      const rij = R.T[i * C1 + j];
      if (rij === 0) continue;
      cols.push(j);
      values.push(rij);
    }
    starts[i + 1] = cols.length;
  }
  const W = W0.data;
  // out[o, j, s] = Σ_i W0[o, i, s] · R[i, j]
  for (let r = 0; r < o; r++) {
    const base0 = r * C0 * S;
    const base1 = r * C1 * S;
    for (let i = 0; i < C0; i++) {
      const w = base0 + i * S;
      for (let k = starts[i]; k < starts[i + 1]; k++) {
        const rij = values[k];
        const d = base1 + cols[k] * S;
        for (let s = 0; s < S; s++) out[d + s] += W[w + s] * rij;
      }
    }
  }
  return out;
}

/** The official code's reading of a conv weight's place in a residual block (§7.3); null: not a conv, no skip handling. */
function officialResidualRole(W0: Tensor32): ResidualRole | null {
  if (W0.shape.length !== 4) return null;
  const [o, i, kh, kw] = W0.shape;
  if (i === o) return 'plain';
  return kh === 1 && kw === 1 ? 'shortcut' : 'downsample';
}

function averageMaps(a: InputMap, b: InputMap): InputMap {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new FusionError('INCOMPATIBLE_MODELS', 'shortcut and residual maps have different shapes');
  }
  const T = new Float64Array(a.T.length);
  for (let i = 0; i < T.length; i++) T[i] = f32((a.T[i] + b.T[i]) / 2);
  return { T, rows: a.rows, cols: a.cols, from: [...a.from, ...b.from] };
}

/** Step 8: F = (Y + W1)/2 at exactly 0.5, else (1 − s)·Y + s·W1. */
export function average(Y: ArrayLike<number>, W1: ArrayLike<number>, weightN1: number): Float32Array {
  const out = new Float32Array(W1.length);
  if (weightN1 === 0.5) for (let i = 0; i < out.length; i++) out[i] = (Y[i] + W1[i]) / 2;
  else for (let i = 0; i < out.length; i++) out[i] = (1 - weightN1) * Y[i] + weightN1 * W1[i];
  return out;
}

function finish(
  name: string,
  Y: Float64Array,
  alignedBias: Float64Array | undefined,
  alignedBn: BnVectors<Float64Array> | undefined,
  layer1: FusionLayer,
  T: Float64Array | null,
  rows: number,
  cols: number,
  cost: number | null,
  weightN1: number,
  alignOnly: boolean | undefined,
): Omit<LayerFusionResult, 'inputFrom'> {
  const { weight: W1, bias: b1, bn: bn1 } = layer1;
  if ((alignedBias === undefined) !== (b1 === undefined)) {
    throw new FusionError('INCOMPATIBLE_MODELS', `layer ${name}: one model has a bias and the other does not`, { tensor: name });
  }
  const result: Omit<LayerFusionResult, 'inputFrom'> = { name, aligned: Y, alignedBias, transport: T, rows, cols, cost };
  if (alignedBn) result.alignedBn = alignedBn;
  if (!alignOnly) {
    result.fused = { shape: [...W1.shape], data: average(Y, W1.data, weightN1) };
    if (alignedBias && b1) result.fusedBias = { shape: [...b1.shape], data: average(alignedBias, b1.data, weightN1) };
    if (alignedBn && bn1) {
      result.fusedBn = alignedBn.map((v, k) => ({ shape: [...bn1[k].shape], data: average(v, bn1[k].data, weightN1) })) as BnVectors<Tensor32>;
    }
  }
  return result;
}
