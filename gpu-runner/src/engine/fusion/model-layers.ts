/**
 * Adapters between whole models and the per-layer views the algorithms use:
 * weight tensors (with bias and BatchNorm) as fusion layers, recorded
 * activations as CKA matrices and OT neuron rows, fused layers back into a
 * model. Names and structure come from arch.ts layerSpecs, so one adapter
 * serves every family.
 */
import { BN_SUFFIXES, type LayerSpec, type Model, type Params, layerSpecs, makeModel } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import type { LayerActivations } from '../cla/layer-cost.ts';
import type { BnVectors, FusionLayer, LayerFusionResult, NeuronRows, ResidualRole } from './otfusion.ts';
import { type Tap, denseTaps, tapActivations, tapNeuronRows } from './taps.ts';

function tensor(model: Model, name: string): Tensor32 {
  const t = model.params.get(name);
  if (t === undefined) throw new FusionError('MISSING_TENSOR', `tensor ${name} is missing`, { tensor: name });
  return t;
}

/** §7.3 roles from the architecture: a block's conv1 is `downsample` when the block has a shortcut conv. */
function residualRoles(specs: readonly LayerSpec[]): ResidualRole[] {
  return specs.map((s, i) => {
    if (s.role === 'shortcut') return 'shortcut';
    const shortcut = specs[i + 2];
    if (s.role === 'conv1' && shortcut?.role === 'shortcut' && shortcut.stage === s.stage && shortcut.block === s.block) return 'downsample';
    return 'plain';
  });
}

export function fusionLayers(model: Model): FusionLayer[] {
  const specs = layerSpecs(model.arch);
  const roles = model.arch.family === 'resnet' ? residualRoles(specs) : undefined;
  return specs.map((s, l) => {
    const layer: FusionLayer = { name: s.weight, weight: tensor(model, s.weight) };
    if (s.bias) layer.bias = tensor(model, s.bias);
    if (s.bn) layer.bn = BN_SUFFIXES.map((suffix) => tensor(model, `${s.bn}.${suffix}`)) as BnVectors<Tensor32>;
    if (roles) layer.residual = roles[l];
    return layer;
  });
}

/** Recorded taps as CKA/Wasserstein inputs (hidden layers only). */
export function layerActivations(taps: readonly Tap[], t: number): LayerActivations[] {
  return taps.slice(0, -1).map((tap) => tapActivations(tap, t));
}

/** Recorded taps as OT neuron rows (every layer, output included). */
export function neuronRows(taps: readonly Tap[] | readonly Float32Array[], t: number): NeuronRows[] {
  const asTaps = taps.map((tap) => (tap instanceof Float32Array ? denseTaps([tap], t)[0] : tap));
  return tapNeuronRows(asTaps, t);
}

/** Per-layer tensors to load into an architecture: the weight, and the bias and BatchNorm vectors when it has them. */
export interface LayerTensors {
  weight: Float32Array;
  bias?: Float32Array;
  bn?: BnVectors<Float32Array>;
}

/** Loads per-layer fused tensors into the architecture of `like` (N1). */
export function modelFromLayers(like: Model, layers: readonly LayerTensors[]): Model {
  const params: Params = new Map();
  const specs = layerSpecs(like.arch);
  if (layers.length !== specs.length) {
    throw new FusionError('SHAPE_MISMATCH', `${layers.length} fused layers for an architecture with ${specs.length}`);
  }
  specs.forEach((s, l) => {
    const { weight, bias, bn } = layers[l];
    params.set(s.weight, { shape: [...s.shape], data: weight });
    if (s.bias) {
      if (!bias) throw new FusionError('MISSING_TENSOR', `fused tensor ${s.bias} is missing`, { tensor: s.bias });
      params.set(s.bias, { shape: [s.shape[0]], data: bias });
    }
    if (s.bn) {
      if (!bn) throw new FusionError('MISSING_TENSOR', `fused BatchNorm ${s.bn} is missing`, { tensor: s.bn });
      BN_SUFFIXES.forEach((suffix, k) => params.set(`${s.bn}.${suffix}`, { shape: [s.shape[0]], data: bn[k] }));
    }
  });
  return makeModel(like.arch, params);
}

export function fusedModel(like: Model, results: readonly LayerFusionResult[]): Model {
  return modelFromLayers(
    like,
    results.map((r) => ({ weight: r.fused!.data, bias: r.fusedBias?.data, bn: r.fusedBn?.map((v) => v.data) as BnVectors<Float32Array> | undefined })),
  );
}
