/**
 * VGG (docs/algorithm.md §1.2): 3×3 pad-1 convs, each followed by its optional
 * bias and BatchNorm and a ReLU; 2×2 stride-2 max-pools at the "M" entries;
 * flatten in C,H,W order; then the classifier, one Linear or hidden FC layers
 * with ReLU before the last. The official models end with AvgPool2d(1, 1),
 * the identity, which is left out.
 *
 * Taps: each conv's value fed to its ReLU (after bias and BatchNorm), then
 * each FC layer's output, the logits last.
 */
import * as tf from '@tensorflow/tfjs';
import type { VggArch } from '@clafusion/model-format/arch';
import { type NetRun, convLayer, linearLayer, nhwcToRows, recordMap, recordRows, rowsToNhwc } from './conv.ts';
import type { ApplyOptions, FamilyNet, NetOutput } from './families.ts';
import { layerParams } from './layers.ts';

function apply(arch: VggArch, params: readonly tf.Tensor[], x: tf.Tensor2D, options: ApplyOptions): NetOutput {
  const run: NetRun = { params, training: options.training === true, record: options.record === true, taps: [], runningStats: [], exchange: options.exchange, adjust: options.adjust };
  const layers = layerParams(arch);
  let h = rowsToNhwc(x, arch.input);
  let k = 0;
  for (const entry of arch.config) {
    if (entry === 'M') {
      h = tf.maxPool(h, 2, 2, 'valid');
      continue;
    }
    const z = convLayer(run, layers[k++], h);
    recordMap(run, z);
    h = tf.relu(z);
  }
  // PyTorch flattens the NCHW map: the classifier's inputs are in C,H,W order.
  let rows = nhwcToRows(h);
  for (; k < layers.length; k++) {
    const z = linearLayer(run, layers[k], rows);
    recordRows(run, z);
    rows = k < layers.length - 1 ? tf.relu(z) : z;
  }
  return { logits: rows, taps: run.taps, runningStats: run.runningStats };
}

export const vggNet: FamilyNet<VggArch> = {
  apply,
  output: (_arch, logits) => logits,
};
