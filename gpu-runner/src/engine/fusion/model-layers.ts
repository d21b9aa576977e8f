/**
 * Adapters between whole models and the per-layer views the algorithms use:
 * weight tensors as fusion layers, recorded activations as CKA matrices and
 * OT neuron rows, fused layers back into a model.
 */
import { type Model, type Params, layerBias, layerCount, layerWeight, makeModel, mlpBiasName, mlpWeightName } from '../arch.ts';
import type { LayerActivations } from '../cla/layer-cost.ts';
import type { FusionLayer, LayerFusionResult, NeuronRows } from './otfusion.ts';

export function fusionLayers(model: Model): FusionLayer[] {
  return Array.from({ length: layerCount(model.arch) }, (_, l) => ({
    name: mlpWeightName(l),
    weight: layerWeight(model, l),
    bias: layerBias(model, l),
  }));
}

/** Recorded taps [t, width] as CKA/Wasserstein inputs (hidden layers only). */
export function layerActivations(taps: readonly Float32Array[], t: number): LayerActivations[] {
  return taps.slice(0, -1).map((data) => {
    const width = data.length / t;
    return { data, t, features: width, width };
  });
}

/** Recorded taps [t, width] as OT neuron rows [width, t] (every layer, output included). */
export function neuronRows(taps: readonly Float32Array[], t: number): NeuronRows[] {
  return taps.map((data) => {
    const width = data.length / t;
    const rows = new Float64Array(width * t);
    for (let s = 0; s < t; s++) for (let c = 0; c < width; c++) rows[c * t + s] = data[s * width + c];
    return { data: rows, width, features: t };
  });
}

/** Loads per-layer fused weights into the architecture of `like` (N1). */
export function modelFromLayers(like: Model, weights: readonly Float32Array[], biases: readonly (Float32Array | undefined)[]): Model {
  const params: Params = new Map();
  weights.forEach((w, l) => {
    params.set(mlpWeightName(l), { shape: [...layerWeight(like, l).shape], data: w });
    const b = biases[l];
    if (b) params.set(mlpBiasName(l), { shape: [b.length], data: b });
  });
  return makeModel(like.arch, params);
}

export function fusedModel(like: Model, results: readonly LayerFusionResult[]): Model {
  return modelFromLayers(
    like,
    results.map((r) => r.fused!.data),
    results.map((r) => r.fusedBias?.data),
  );
}
