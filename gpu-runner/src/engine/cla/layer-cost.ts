/**
 * Layer dissimilarity matrices for cross-layer alignment (docs/algorithm.md §3).
 * Rows are the deeper model A's hidden layers, columns the shallower model
 * B's; entries are float64.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { type Mat64, mat64 } from '@clafusion/model-format/tensor';
import { centeredGram, linearCka } from './cka.ts';
import { type GroundMetricOptions, type Rows, groundMetric } from '../fusion/ground-metric.ts';
import { emd2 } from '../ot/index.ts';

export type LayerCostKind = 'cka' | 'neurons' | 'index' | 'wasserstein';

/** One hidden layer's recorded activations: t samples × `width` features. */
export interface LayerActivations {
  /** Row-major [t, features]. For CKA the features are the flattened C·H·W. */
  data: Float32Array;
  t: number;
  features: number;
  /** Number of neurons/channels (the layer's width). */
  width: number;
  /**
   * Neuron point clouds for the Wasserstein cost (§2.3): row-major
   * [width, t·features/width], one row per neuron. Convolutional callers
   * supply it (ordering (h, w, sample)); dense layers derive it.
   */
  neuronRows?: () => Rows;
}

/** Squared difference of neuron counts (the `neuron` + `euclidean` default). */
export function neuronCountCost(widthsA: readonly number[], widthsB: readonly number[]): Mat64 {
  const C = mat64(widthsA.length, widthsB.length);
  widthsA.forEach((x, i) => widthsB.forEach((y, j) => (C.data[i * widthsB.length + j] = (x - y) ** 2)));
  return C;
}

/** Squared difference of (1-based) layer indices. */
export function indexCost(m: number, n: number): Mat64 {
  const C = mat64(m, n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) C.data[i * n + j] = (i - j) ** 2;
  return C;
}

/**
 * Squared difference of the layers' indices in their whole model (the
 * `index` measure x = [1..m], sliced per group or stage like every other
 * layer measure, §3 item 2 and §5): a group's cost uses global indices,
 * not positions within the group.
 */
export function layerIndexCost(indicesA: readonly number[], indicesB: readonly number[]): Mat64 {
  return neuronCountCost(indicesA, indicesB);
}

/** 1 − linear CKA between every pair of layers, each centred Gram built once. */
export function ckaCost(actsA: readonly LayerActivations[], actsB: readonly LayerActivations[]): Mat64 {
  const t = actsA[0]?.t ?? 0;
  for (const a of [...actsA, ...actsB]) {
    if (a.t !== t) throw new FusionError('SHAPE_MISMATCH', 'every layer must be recorded on the same calibration samples');
  }
  const gramsA = actsA.map((a) => centeredGram(a.data, a.t, a.features));
  const gramsB = actsB.map((b) => centeredGram(b.data, b.t, b.features));
  const C = mat64(actsA.length, actsB.length);
  gramsA.forEach((ga, i) => gramsB.forEach((gb, j) => (C.data[i * actsB.length + j] = 1 - linearCka(ga, gb))));
  return C;
}

/**
 * Exact EMD cost between uniform measures on the two layers' neuron point
 * clouds, with the same ground metric settings as OTFusion (§3 item 5).
 */
export function wassersteinCost(
  actsA: readonly LayerActivations[],
  actsB: readonly LayerActivations[],
  metric: GroundMetricOptions,
): Mat64 {
  const C = mat64(actsA.length, actsB.length);
  const rowsA = actsA.map(neuronRowsOf);
  const rowsB = actsB.map(neuronRowsOf);
  actsA.forEach((a, i) =>
    actsB.forEach((b, j) => {
      // A neuron's point is its value at every (position, sample): t·H·W long.
      const dim = (a.t * a.features) / a.width;
      if ((b.t * b.features) / b.width !== dim) {
        throw new FusionError(
          'SHAPE_MISMATCH',
          `Wasserstein layer cost needs neuron points of equal length (A layer ${i + 1}: ${dim}, B layer ${j + 1}: ${(b.t * b.features) / b.width}); layers of different spatial size cannot be compared`,
        );
      }
      const M = groundMetric(rowsA[i], a.width, rowsB[j], b.width, dim, a.t, metric);
      const mu = new Float64Array(a.width).fill(1 / a.width);
      const nu = new Float64Array(b.width).fill(1 / b.width);
      C.data[i * actsB.length + j] = emd2(mu, nu, M.data);
    }),
  );
  return C;
}

/** [width, features/width] neuron rows; for dense layers the transpose of [t, width]. */
export function neuronRowsOf(a: LayerActivations): Rows {
  if (a.neuronRows) return a.neuronRows();
  if (a.features !== a.width) {
    throw new FusionError('UNSUPPORTED', 'neuron rows of a convolutional layer must be supplied by the caller');
  }
  const out = new Float64Array(a.width * a.t);
  for (let s = 0; s < a.t; s++) for (let c = 0; c < a.width; c++) out[c * a.t + s] = a.data[s * a.width + c];
  return out;
}
