/**
 * An independent float64 reference for the convolutional nets, for tests:
 * plain loops over NCHW arrays and OIHW weights, no tfjs, written from
 * docs/algorithm.md §1.2–1.3 and §2.2 rather than from the nets' code.
 */
import { type Model, type ResNetArch, type VggArch, layerSpecs } from '@clafusion/model-format/arch';
import { BN_EPS } from './batchnorm.ts';
import type { Tensor32 } from '@clafusion/model-format/tensor';

/** A batch of NCHW maps. */
export interface Maps {
  n: number;
  c: number;
  h: number;
  w: number;
  data: Float64Array;
}

function param(model: Model, name: string): Float32Array {
  const t = model.params.get(name);
  if (t === undefined) throw new Error(`reference: ${name} missing`);
  return t.data;
}

export function conv(x: Maps, weight: Float32Array, out: number, k: number, stride: number, pad: number, bias?: Float32Array): Maps {
  const oh = Math.floor((x.h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((x.w + 2 * pad - k) / stride) + 1;
  const y = new Float64Array(x.n * out * oh * ow);
  for (let s = 0; s < x.n; s++) {
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          let acc = bias === undefined ? 0 : bias[o];
          for (let c = 0; c < x.c; c++) {
            for (let a = 0; a < k; a++) {
              const hi = i * stride + a - pad;
              if (hi < 0 || hi >= x.h) continue;
              for (let b = 0; b < k; b++) {
                const wi = j * stride + b - pad;
                if (wi < 0 || wi >= x.w) continue;
                acc += weight[((o * x.c + c) * k + a) * k + b] * x.data[((s * x.c + c) * x.h + hi) * x.w + wi];
              }
            }
          }
          y[((s * out + o) * oh + i) * ow + j] = acc;
        }
      }
    }
  }
  return { n: x.n, c: out, h: oh, w: ow, data: y };
}

/** Eval-mode BatchNorm with the model's running statistics. */
export function batchNormEval(x: Maps, model: Model, prefix: string): Maps {
  const [g, b, m, v] = ['weight', 'bias', 'running_mean', 'running_var'].map((s) => param(model, `${prefix}.${s}`));
  const y = new Float64Array(x.data.length);
  const hw = x.h * x.w;
  for (let i = 0; i < y.length; i++) {
    const c = Math.floor(i / hw) % x.c;
    y[i] = ((x.data[i] - m[c]) / Math.sqrt(v[c] + BN_EPS)) * g[c] + b[c];
  }
  return { ...x, data: y };
}

/** PyTorch's running-stat update inputs for one BatchNorm: the batch mean and unbiased variance. */
export interface BatchStats {
  mean: Float64Array;
  unbiasedVar: Float64Array;
}

/**
 * Training-mode BatchNorm: normalises with the batch mean and biased
 * variance over (N, H, W); records the mean and unbiased variance in `stats`.
 */
export function batchNormTrain(x: Maps, model: Model, prefix: string, stats: Map<string, BatchStats>): Maps {
  const [g, b] = ['weight', 'bias'].map((s) => param(model, `${prefix}.${s}`));
  const hw = x.h * x.w;
  const count = x.n * hw;
  const mean = new Float64Array(x.c);
  const biased = new Float64Array(x.c);
  for (let i = 0; i < x.data.length; i++) mean[Math.floor(i / hw) % x.c] += x.data[i] / count;
  for (let i = 0; i < x.data.length; i++) {
    const c = Math.floor(i / hw) % x.c;
    biased[c] += (x.data[i] - mean[c]) ** 2 / count;
  }
  stats.set(prefix, { mean, unbiasedVar: biased.map((v) => (v * count) / (count - 1)) });
  const y = x.data.map((v, i) => {
    const c = Math.floor(i / hw) % x.c;
    return ((v - mean[c]) / Math.sqrt(biased[c] + BN_EPS)) * g[c] + b[c];
  });
  return { ...x, data: y };
}

export function relu(x: Maps): Maps {
  return { ...x, data: x.data.map((v) => Math.max(v, 0)) };
}

export function add(a: Maps, b: Maps): Maps {
  return { ...a, data: a.data.map((v, i) => v + b.data[i]) };
}

export function maxPool2(x: Maps): Maps {
  const oh = Math.floor(x.h / 2);
  const ow = Math.floor(x.w / 2);
  const y = new Float64Array(x.n * x.c * oh * ow);
  for (let p = 0; p < x.n * x.c; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let best = -Infinity;
        for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) best = Math.max(best, x.data[(p * x.h + 2 * i + a) * x.w + 2 * j + b]);
        y[(p * oh + i) * ow + j] = best;
      }
    }
  }
  return { n: x.n, c: x.c, h: oh, w: ow, data: y };
}

/** rows [n, in] (row-major) → [n, out] with an [out, in] weight. */
export function dense(rows: Float64Array, n: number, weight: Float32Array, out: number, bias?: Float32Array): Float64Array {
  const inner = rows.length / n;
  const y = new Float64Array(n * out);
  for (let s = 0; s < n; s++) {
    for (let o = 0; o < out; o++) {
      let acc = bias === undefined ? 0 : bias[o];
      for (let i = 0; i < inner; i++) acc += weight[o * inner + i] * rows[s * inner + i];
      y[s * out + o] = acc;
    }
  }
  return y;
}

function input(x: Tensor32, [h, w, c]: [number, number, number]): Maps {
  return { n: x.shape[0], c, h, w, data: Float64Array.from(x.data) };
}

/**
 * How BatchNorm runs: eval mode (running statistics), or training mode
 * (batch statistics, each BatchNorm's recorded in `stats` under its prefix).
 */
export type BnMode = { mode: 'eval' } | { mode: 'train'; stats: Map<string, BatchStats> };

const EVAL: BnMode = { mode: 'eval' };

/** A conv layer with its bias and BatchNorm, by LayerSpec. */
function convSpec(model: Model, index: number, x: Maps, bn: BnMode): Maps {
  const s = layerSpecs(model.arch)[index];
  const bias = s.bias === undefined ? undefined : param(model, s.bias);
  const y = conv(x, param(model, s.weight), s.shape[0], s.shape[2], s.stride, s.padding, bias);
  if (s.bn === undefined) return y;
  return bn.mode === 'eval' ? batchNormEval(y, model, s.bn) : batchNormTrain(y, model, s.bn, bn.stats);
}

function linearSpec(model: Model, index: number, rows: Float64Array, n: number): Float64Array {
  const s = layerSpecs(model.arch)[index];
  return dense(rows, n, param(model, s.weight), s.shape[0], s.bias === undefined ? undefined : param(model, s.bias));
}

/** The VGG's pre-ReLU taps (§2.2), logits last, each [n, features] in C,H,W order. */
export function referenceVgg(model: Model & { arch: VggArch }, x: Tensor32, bn: BnMode = EVAL): Float64Array[] {
  const taps: Float64Array[] = [];
  let h = input(x, model.arch.input);
  let k = 0;
  for (const entry of model.arch.config) {
    if (entry === 'M') {
      h = maxPool2(h);
      continue;
    }
    const z = convSpec(model, k++, h, bn);
    taps.push(z.data);
    h = relu(z);
  }
  // NCHW data is already flattened in C,H,W order.
  let rows = h.data;
  const count = layerSpecs(model.arch).length;
  for (; k < count; k++) {
    const z = linearSpec(model, k, rows, h.n);
    taps.push(z);
    rows = k < count - 1 ? z.map((v) => Math.max(v, 0)) : z;
  }
  return taps;
}

/** The ResNet's taps (§2.2): conv2 = pre-ReLU block sum, shortcut.0 = its own output. */
export function referenceResNet(model: Model & { arch: ResNetArch }, x: Tensor32, bn: BnMode = EVAL): Float64Array[] {
  const specs = layerSpecs(model.arch);
  const taps: Float64Array[] = [];
  const stem = convSpec(model, 0, input(x, model.arch.input), bn);
  taps.push(stem.data);
  let h = relu(stem);
  let k = 1;
  while (specs[k].role === 'conv1') {
    const a = convSpec(model, k, h, bn);
    const b = convSpec(model, k + 1, relu(a), bn);
    const hasShortcut = specs[k + 2].role === 'shortcut';
    const skip = hasShortcut ? convSpec(model, k + 2, h, bn) : h;
    const sum = add(b, skip);
    taps.push(a.data, sum.data);
    if (hasShortcut) taps.push(skip.data);
    h = relu(sum);
    k += hasShortcut ? 3 : 2;
  }
  const pooled = new Float64Array(h.n * h.c);
  for (let p = 0; p < h.n * h.c; p++) {
    let acc = 0;
    for (let i = 0; i < h.h * h.w; i++) acc += h.data[p * h.h * h.w + i];
    pooled[p] = acc / (h.h * h.w);
  }
  taps.push(linearSpec(model, k, pooled, h.n));
  return taps;
}
