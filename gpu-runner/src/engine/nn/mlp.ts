/**
 * The MLP of docs/algorithm.md §1.1: `h = x`, `h = ReLU(W_k h (+ b_k))` for each
 * hidden layer, then `logits = W_{H+1} h (+ b)`; the model returns
 * log_softmax(logits).
 */
import * as tf from '@tensorflow/tfjs';
import type { MlpArch } from '@clafusion/model-format/arch';
import type { ApplyOptions, FamilyNet, NetOutput } from './families.ts';
import { linear } from './linear.ts';

function apply(arch: MlpArch, params: readonly tf.Tensor[], x: tf.Tensor2D, options: ApplyOptions): NetOutput {
  const record = options.record === true;
  const layers = arch.hidden.length + 1;
  const perLayer = arch.bias ? 2 : 1;
  const taps: tf.Tensor2D[] = [];
  let h = x;
  for (let k = 0; k < layers; k++) {
    const w = params[k * perLayer] as tf.Tensor2D;
    // Weights stay [out, in] as in PyTorch; see linear.ts for the product.
    let z: tf.Tensor2D = linear(h, w);
    if (arch.bias) z = tf.add(z, params[k * perLayer + 1] as tf.Tensor1D);
    if (options.adjust !== undefined) z = options.adjust(k, z) as tf.Tensor2D;
    if (record) taps.push(z);
    h = k < layers - 1 ? tf.relu(z) : z;
  }
  return { logits: h, taps, runningStats: [] };
}

export const mlpNet: FamilyNet<MlpArch> = {
  apply,
  output: (_arch, logits) => tf.logSoftmax(logits),
};
