/**
 * Preprocessing applied after reading, in torchvision's usual order:
 * `channels` (repeat a grayscale channel), `pad` (zeros around each image, in
 * pixel space, like transforms.Pad before ToTensor/Normalize), `normalize`
 * ((x − mean) / std per channel; a padded border therefore becomes −mean/std,
 * as it does in torchvision), then `flatten` to [N, C·H·W] in C,H,W order.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { type Tensor32, numel, shapeString } from '@clafusion/model-format/tensor';
import type { Dataset } from './dataset.ts';

export interface Normalization {
  mean: number | number[];
  std: number | number[];
}

/** The standard per-channel statistics of each dataset's training set, for [0, 1] pixels. */
export const NORMALIZE_PRESETS = {
  mnist: { mean: 0.1307, std: 0.3081 },
  'fashion-mnist': { mean: 0.286, std: 0.353 },
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] },
} as const satisfies Record<string, Normalization>;

export type NormalizePreset = keyof typeof NORMALIZE_PRESETS;

export interface DatasetTransforms {
  /** 3 repeats a single grayscale channel (NCHW input with C = 1); 1 or the current C is a no-op. */
  channels?: number;
  /** Zero pixels added on each side of every image (e.g. 2 turns 28×28 into 32×32). */
  pad?: number;
  normalize?: NormalizePreset | Normalization;
  /** Reshape to [N, D], D = C·H·W in C,H,W order. */
  flatten?: boolean;
}

function invalid(field: string, message: string): FusionError {
  return new FusionError('INVALID_ARGUMENT', message, { field });
}

function requireImages(x: Tensor32, field: string): [number, number, number, number] {
  if (x.shape.length !== 4) {
    throw invalid(field, `${field} needs NCHW images, but x has shape ${shapeString(x.shape)}`);
  }
  return x.shape as [number, number, number, number];
}

function repeatChannels(x: Tensor32, channels: number): Tensor32 {
  if (!Number.isInteger(channels) || channels < 1) throw invalid('channels', `channels must be a positive integer, got ${channels}`);
  if (x.shape.length === 4 && x.shape[1] === channels) return x;
  const [n, c, h, w] = requireImages(x, 'channels');
  if (c !== 1) throw invalid('channels', `channels: ${channels} can only repeat a single channel, but x has ${c}`);
  const plane = h * w;
  const out = new Float32Array(n * channels * plane);
  for (let i = 0; i < n; i++) {
    const src = x.data.subarray(i * plane, (i + 1) * plane);
    for (let k = 0; k < channels; k++) out.set(src, (i * channels + k) * plane);
  }
  return { shape: [n, channels, h, w], data: out };
}

function padImages(x: Tensor32, pad: number): Tensor32 {
  if (!Number.isInteger(pad) || pad < 0) throw invalid('pad', `pad must be a non-negative integer, got ${pad}`);
  if (pad === 0) return x;
  const [n, c, h, w] = requireImages(x, 'pad');
  const ph = h + 2 * pad;
  const pw = w + 2 * pad;
  const out = new Float32Array(n * c * ph * pw);
  for (let plane = 0; plane < n * c; plane++) {
    for (let r = 0; r < h; r++) {
      const src = (plane * h + r) * w;
      out.set(x.data.subarray(src, src + w), (plane * ph + r + pad) * pw + pad);
    }
  }
  return { shape: [n, c, ph, pw], data: out };
}

function perChannel(value: number | readonly number[], channels: number, field: string): number[] {
  const values = typeof value === 'number' ? [value] : [...value];
  if (values.length === 1) return Array(channels).fill(values[0]);
  if (values.length !== channels) {
    throw invalid(field, `${field} has ${values.length} values but x has ${channels} channel(s)`);
  }
  return values;
}

function normalizeImages(x: Tensor32, normalize: NormalizePreset | Normalization): Tensor32 {
  let stats: Normalization;
  if (typeof normalize === 'string') {
    if (!Object.hasOwn(NORMALIZE_PRESETS, normalize)) {
      throw invalid('normalize', `unknown normalization preset ${JSON.stringify(normalize)} (known: ${Object.keys(NORMALIZE_PRESETS).join(', ')})`);
    }
    const preset = NORMALIZE_PRESETS[normalize];
    stats = { mean: preset.mean as number | number[], std: preset.std as number | number[] };
  } else {
    stats = normalize;
  }
  // Only NCHW tensors have a channel axis; anything else is one channel.
  const channels = x.shape.length === 4 ? x.shape[1] : 1;
  const mean = perChannel(stats.mean, channels, 'normalize.mean');
  const std = perChannel(stats.std, channels, 'normalize.std');
  mean.forEach((m) => {
    if (!Number.isFinite(m)) throw invalid('normalize.mean', `normalize.mean must be finite, got ${m}`);
  });
  std.forEach((s) => {
    if (!(Number.isFinite(s) && s > 0)) throw invalid('normalize.std', `normalize.std must be positive, got ${s}`);
  });
  const plane = x.shape.length === 4 ? x.shape[2] * x.shape[3] : x.data.length;
  const out = new Float32Array(x.data.length);
  for (let start = 0, p = 0; start < x.data.length; start += plane, p++) {
    const k = p % channels;
    for (let i = start; i < start + plane; i++) out[i] = (x.data[i] - mean[k]) / std[k];
  }
  return { shape: [...x.shape], data: out };
}

/** Applies the transforms in the documented order; returns a new dataset (labels shared). */
export function transformDataset(dataset: Dataset, transforms: DatasetTransforms): Dataset {
  let x = dataset.x;
  if (transforms.channels !== undefined) x = repeatChannels(x, transforms.channels);
  if (transforms.pad !== undefined) x = padImages(x, transforms.pad);
  if (transforms.normalize !== undefined) x = normalizeImages(x, transforms.normalize);
  if (transforms.flatten) x = { shape: [x.shape[0], numel(x.shape.slice(1))], data: x.data };
  return dataset.y === undefined ? { x } : { x, y: dataset.y };
}
