/**
 * Recorded values ("taps", docs/algorithm.md §2.2) and the two views the
 * algorithms take of them (§2.3):
 *
 * - CLA compares layers as matrices [t, C·H·W] (one row per sample);
 * - OT compares neurons: channel c of a conv layer is the point
 *   P[c] ∈ R^{H·W·t} of its values at every position and sample, a dense
 *   neuron the point of its t values.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { numel, shapeString } from '@clafusion/model-format/tensor';
import type { LayerActivations } from '../cla/layer-cost.ts';
import type { NeuronRows } from './otfusion.ts';
import type { RowMatrix } from './row-products.ts';

/** One layer's recorded values: `data` is [t, ...shape] row-major, shape [C, H, W] or [width]. */
export interface Tap {
  data: Float32Array;
  shape: number[];
}

export function checkTap(tap: Tap, t: number, what: string): void {
  if (tap.data.length !== t * numel(tap.shape)) {
    throw new FusionError(
      'SHAPE_MISMATCH',
      `recorded values of ${what} hold ${tap.data.length} numbers, not ${t} samples of ${shapeString(tap.shape)}`,
      { tensor: what },
    );
  }
}

/**
 * Channel-major rows [C, S·t] of a tap [t, C, S] (S = H·W, or 1 for a dense
 * layer), ordered (sample, position) within a row. Distances do not depend
 * on the order inside a row as long as both models use the same one (§2.3).
 */
export function channelRows(tap: Tap, t: number): Float32Array {
  const C = tap.shape[0];
  const S = numel(tap.shape) / C;
  const x = tap.data; // read once: a derived tap computes its values on each read
  const out = new Float32Array(x.length);
  // Element loops rather than set(subarray): runs are short (S = 16 for a
  // 4×4 map) and taps recorded on threads live in shared buffers, whose
  // bulk copies V8 does element by element with atomics.
  for (let s = 0; s < t; s++) {
    for (let c = 0; c < C; c++) {
      const from = (s * C + c) * S;
      const to = (c * t + s) * S;
      for (let k = 0; k < S; k++) out[to + k] = x[from + k];
    }
  }
  return out;
}

/**
 * A tap as OT neuron rows. The rows are built on access and not kept: for
 * a ResNet34 at t = 200 the taps alone are ~0.9 GB, and a second resident
 * copy per layer would double that.
 */
export class TapNeuronRows implements NeuronRows {
  readonly width: number;
  readonly features: number;
  private held: Tap | null;
  constructor(
    tap: Tap,
    private readonly t: number,
  ) {
    this.held = tap;
    this.width = tap.shape[0];
    this.features = (numel(tap.shape) / this.width) * t;
  }
  private get tap(): Tap {
    // A programming error, not bad input: OT releases a layer's rows only after its last read.
    if (!this.held) throw new Error(`the recorded values of a ${this.width}-neuron layer were released before use`);
    return this.held;
  }
  get data(): Float32Array {
    return channelRows(this.tap, this.t);
  }
  /** The same rows read in place from the tap (no copy): channel c, value (s, k) at (s·C + c)·S + k. */
  matrix(): RowMatrix {
    const S = this.features / this.t;
    return { data: this.tap.data, rows: this.width, cols: this.features, layout: { rowStride: S, run: S, runStride: this.width * S } };
  }
  release(): void {
    this.held = null;
  }
}

export function tapNeuronRows(taps: readonly Tap[], t: number): NeuronRows[] {
  return taps.map((tap) => new TapNeuronRows(tap, t));
}

/** A hidden layer's tap as a CLA matrix [t, C·H·W], with neuron rows for the Wasserstein cost. */
export function tapActivations(tap: Tap, t: number): LayerActivations {
  const features = numel(tap.shape);
  const rows = new TapNeuronRows(tap, t);
  return { data: tap.data, t, features, width: tap.shape[0], neuronRows: () => rows.data };
}

/** Taps of a dense network given as [t, width] arrays (shape [width]). */
export function denseTaps(taps: readonly Float32Array[], t: number): Tap[] {
  return taps.map((data) => ({ data, shape: [data.length / t] }));
}
