/**
 * Balancing by adding layers (algorithm.md §6.1): the shallower model B
 * becomes B', with A's depth and B's widths. Each unmatched A slot receives an
 * identity layer of the width of the B layer before it; since that layer's
 * input is a ReLU output (≥ 0), ReLU(I·x) = x and B' computes exactly what B
 * computes.
 */
import { type Model, type Params, layerBias, layerCount, layerWeight, makeModel, mlpBiasName, mlpWeightName } from '../arch.ts';
import { FusionError } from '../errors.ts';
import { type Tensor32, tensor32 } from '../tensor.ts';
import { validateMapping } from '../cla/dynamic-program.ts';

/** Which B layer (0-based) fills each slot of B', or null for an inserted identity. */
export type AddPlan = (number | null)[];

/**
 * The slot plan of §6.1: for mapping a (1-based, length n over B's hidden
 * layers) into A's m hidden layers, returns m+1 entries (hidden slots plus the
 * classifier).
 */
export function addLayersPlan(mapping: readonly number[], m: number): AddPlan {
  const n = mapping.length;
  validateMapping(mapping, n, m);
  const a = [...mapping, m + 1]; // the classifier maps to the classifier
  const plan: AddPlan = [];
  let c = 1;
  for (let k = 1; k <= n + 1; k++) {
    if (k === 1) {
      while (c < a[0]) {
        plan.push(null);
        c++;
      }
    }
    plan.push(k - 1);
    c++;
    if (k <= n) {
      while (c < a[k]) {
        plan.push(null);
        c++;
      }
    }
  }
  return plan;
}

/** Builds B' from B for the mapping into a deeper model with m hidden layers. */
export function addLayers(B: Model, mapping: readonly number[], m: number): Model {
  if (B.arch.family !== 'mlp') {
    throw new FusionError('UNSUPPORTED', `adding layers to a ${B.arch.family} is handled by its family module`);
  }
  const n = layerCount(B.arch) - 1;
  if (mapping.length !== n) {
    throw new FusionError('INVALID_ARGUMENT', `mapping has ${mapping.length} entries but the shallower model has ${n} hidden layers`);
  }
  const plan = addLayersPlan(mapping, m);
  const params: Params = new Map();
  const hidden: number[] = [];
  // An identity inserted before B's first layer takes the input width (§6.1);
  // that is only possible without the first-layer constraint.
  let width = layerWeight(B, 0).shape[1];
  plan.forEach((source, slot) => {
    let w: Tensor32;
    let b: Tensor32 | undefined;
    if (source === null) {
      w = tensor32([width, width]);
      for (let i = 0; i < width; i++) w.data[i * width + i] = 1;
      if (B.arch.bias) b = tensor32([width]);
    } else {
      w = cloneTensor(layerWeight(B, source));
      const bias = layerBias(B, source);
      if (bias) b = cloneTensor(bias);
      width = w.shape[0];
    }
    params.set(mlpWeightName(slot), w);
    if (b) params.set(mlpBiasName(slot), b);
    if (slot < plan.length - 1) hidden.push(w.shape[0]);
  });
  return makeModel({ ...B.arch, hidden }, params);
}

function cloneTensor(t: Tensor32): Tensor32 {
  return { shape: [...t.shape], data: Float32Array.from(t.data) };
}
