/**
 * Moves parameters between the host (Float32Array, canonical names) and the
 * tfjs backend (tensors in canonical paramSpecs order).
 */
import * as tf from '@tensorflow/tfjs';
import { type Arch, type Params, paramSpecs } from '@clafusion/model-format/arch';
import type { Model } from '@clafusion/model-format/arch';

/** Uploads a model's parameters in paramSpecs order. The caller disposes them. */
export function uploadParams(model: Model): tf.Tensor[] {
  return paramSpecs(model.arch).map((spec) => tf.tensor(model.params.get(spec.name)!.data, spec.shape, 'float32'));
}

/**
 * Reads tensors (in paramSpecs order) back into fresh host arrays. The copy
 * matters: on the cpu backend `dataSync()` can hand back the very array a
 * tensor was created from, and a returned model must never alias its input.
 */
export function downloadParams(arch: Arch, tensors: readonly tf.Tensor[]): Params {
  const params: Params = new Map();
  paramSpecs(arch).forEach((spec, i) => {
    params.set(spec.name, { shape: [...spec.shape], data: new Float32Array(tensors[i].dataSync()) });
  });
  return params;
}
