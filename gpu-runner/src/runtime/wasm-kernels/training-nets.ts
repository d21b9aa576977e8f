/**
 * Small convnets for training benchmarks and data-parallel tests, written as plain functions of a
 * parameter map so that every worker thread can rebuild the identical network from its name.
 * NHWC, 32×32×3 inputs, 10 classes, softmax cross-entropy averaged over the batch.
 */
import * as tf from '@tensorflow/tfjs';

export type Params = Record<string, tf.Tensor>;

export interface TrainingNet {
  name: string;
  /** Parameter shapes in a fixed order (the order gradients travel in). */
  shapes: Array<[string, number[]]>;
  /** Mean softmax cross-entropy of the batch. */
  loss(p: Params, x: tf.Tensor4D, labels: tf.Tensor2D): tf.Scalar;
}

function conv(p: Params, name: string, h: tf.Tensor4D, stride = 1, relu = true): tf.Tensor4D {
  return tf.fused.conv2d({
    x: h,
    filter: p[`${name}.w`] as tf.Tensor4D,
    strides: stride,
    pad: 'same',
    bias: p[`${name}.b`],
    activation: relu ? 'relu' : 'linear',
  });
}

function dense(p: Params, name: string, h: tf.Tensor2D): tf.Tensor2D {
  return tf.fused.matMul({ a: h, b: p[`${name}.w`] as tf.Tensor2D, bias: p[`${name}.b`] }) as tf.Tensor2D;
}

function convShapes(name: string, k: number, cin: number, cout: number): Array<[string, number[]]> {
  return [[`${name}.w`, [k, k, cin, cout]], [`${name}.b`, [cout]]];
}

/** 3 convs (16/32/64, 3×3, ReLU) each followed by a 2×2 max-pool, then a linear classifier. */
export function tinyCnn(): TrainingNet {
  const widths = [16, 32, 64];
  const shapes: Array<[string, number[]]> = [];
  widths.forEach((w, i) => shapes.push(...convShapes(`c${i}`, 3, i === 0 ? 3 : widths[i - 1], w)));
  shapes.push(['fc.w', [4 * 4 * 64, 10]], ['fc.b', [10]]);
  return {
    name: 'tiny-cnn',
    shapes,
    loss(p, x, labels) {
      let h = x;
      for (let i = 0; i < widths.length; i++) h = tf.maxPool(conv(p, `c${i}`, h), 2, 2, 'valid');
      const logits = dense(p, 'fc', tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D);
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    },
  };
}

/** VGG-style: two 3×3 convs per stage, stage widths as given, 2×2 max-pool after each stage. */
export function vggNet(widths: number[] = [16, 32, 64]): TrainingNet {
  const shapes: Array<[string, number[]]> = [];
  let cin = 3;
  widths.forEach((w, i) => {
    shapes.push(...convShapes(`s${i}a`, 3, cin, w), ...convShapes(`s${i}b`, 3, w, w));
    cin = w;
  });
  const side = 32 >> widths.length;
  shapes.push(['fc.w', [side * side * cin, 10]], ['fc.b', [10]]);
  return {
    name: `vgg-${widths.join('-')}`,
    shapes,
    loss(p, x, labels) {
      let h = x;
      for (let i = 0; i < widths.length; i++) h = tf.maxPool(conv(p, `s${i}b`, conv(p, `s${i}a`, h)), 2, 2, 'valid');
      const logits = dense(p, 'fc', tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D);
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    },
  };
}

/** VGG13_doub with every width divided by 8: the net whose `clafusion train` rate bench:train
 * compares with PyTorch's (bench/cli-train.ts, train_peer.py). */
export const VGG13_DOUB_8_CONFIG: Array<number | 'M'> = [8, 16, 'M', 32, 32, 'M', 64, 64, 'M', 128, 128, 'M', 128, 64, 'M'];

/**
 * A VGG given as its layer list (widths and 'M' for a 2×2 max-pool), 3×3 convolutions with ReLU,
 * then a linear classifier, no biases (like train_peer.py's vgg_config): the in-process twin of a
 * `clafusion train --arch` VGG, so that its kernels can be profiled.
 */
export function vggConfig(name: string, config: Array<number | 'M'>): TrainingNet {
  const shapes: Array<[string, number[]]> = [];
  let cin = 3;
  let side = 32;
  config.forEach((c, i) => {
    if (c === 'M') {
      side /= 2;
      return;
    }
    shapes.push([`c${i}.w`, [3, 3, cin, c]]);
    cin = c;
  });
  shapes.push(['fc.w', [side * side * cin, 10]]);
  return {
    name,
    shapes,
    loss(p, x, labels) {
      let h = x;
      config.forEach((c, i) => {
        h = c === 'M' ? tf.maxPool(h, 2, 2, 'valid') : tf.relu(tf.conv2d(h, p[`c${i}.w`] as tf.Tensor4D, 1, 'same'));
      });
      const logits = tf.matMul(tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D, p['fc.w'] as tf.Tensor2D);
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    },
  };
}

/** ResNet-18 layout (stem + 4 stages × 2 basic blocks, stride 2 entering stages 2–4, 1×1
 * projection shortcuts), no batch-norm, global average pool, linear classifier. */
export function resnet18(widths: number[] = [8, 16, 32, 64]): TrainingNet {
  const shapes: Array<[string, number[]]> = [...convShapes('stem', 3, 3, widths[0])];
  const blocks: Array<{ name: string; stride: number; project: boolean }> = [];
  let cin = widths[0];
  widths.forEach((w, i) => {
    for (let j = 0; j < 2; j++) {
      const stride = i > 0 && j === 0 ? 2 : 1;
      const name = `l${i}b${j}`;
      const project = stride !== 1 || cin !== w;
      shapes.push(...convShapes(`${name}.c1`, 3, cin, w), ...convShapes(`${name}.c2`, 3, w, w));
      if (project) shapes.push(...convShapes(`${name}.sc`, 1, cin, w));
      blocks.push({ name, stride, project });
      cin = w;
    }
  });
  shapes.push(['fc.w', [cin, 10]], ['fc.b', [10]]);
  return {
    name: `resnet18-${widths.join('-')}`,
    shapes,
    loss(p, x, labels) {
      let h = conv(p, 'stem', x);
      for (const { name, stride, project } of blocks) {
        const r = conv(p, `${name}.c2`, conv(p, `${name}.c1`, h, stride), 1, false);
        const s = project ? conv(p, `${name}.sc`, h, stride, false) : h;
        h = tf.relu(tf.add(r, s));
      }
      const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
      return tf.losses.softmaxCrossEntropy(labels, dense(p, 'fc', pooled)) as tf.Scalar;
    },
  };
}

export const TRAINING_NETS: Record<string, () => TrainingNet> = {
  'tiny-cnn': tinyCnn,
  'vgg-16-32-64': () => vggNet([16, 32, 64]),
  'resnet18-8-16-32-64': () => resnet18([8, 16, 32, 64]),
  'vgg13-doub-8': () => vggConfig('vgg13-doub-8', VGG13_DOUB_8_CONFIG),
};

/** Deterministic He-style initial parameters (weights), zeros (biases), from a 32-bit seed. */
export function initParams(net: TrainingNet, seed = 1): Float32Array[] {
  let s = seed >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  return net.shapes.map(([name, shape]) => {
    const out = new Float32Array(tf.util.sizeFromShape(shape));
    if (name.endsWith('.b')) return out;
    const fanIn = tf.util.sizeFromShape(shape.slice(0, -1));
    const bound = Math.sqrt(6 / fanIn);
    for (let i = 0; i < out.length; i++) out[i] = (uniform() * 2 - 1) * bound;
    return out;
  });
}
