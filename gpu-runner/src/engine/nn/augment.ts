/**
 * CIFAR-style training augmentation on host batches (docs/algorithm.md §2.1,
 * §10.1): RandomCrop(size, padding 4, zero fill) then RandomHorizontalFlip(0.5),
 * drawn from the seeded RNG so a run is reproducible.
 *
 * Batches are NCHW and usually already normalised; torchvision pads the raw
 * image with 0 before normalising, so the fill of a normalised batch is
 * (0 − mean)/std per channel — pass it as `fill`.
 */
import type { Arch } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import type { Rng } from '../rng.ts';

export interface AugmentOptions {
  /** Pixels of padding before the random crop (torchvision: 4 for CIFAR). */
  padding: number;
  /** Flip horizontally with probability 0.5. */
  flip: boolean;
  /** Value of padded pixels, per channel or for all. */
  fill?: number | number[];
}

/**
 * Augments `batch` ([n, c, h, w] row-major) into a new array. Each image gets
 * its own crop offsets (uniform in [0, 2·padding]) and flip.
 */
export function augmentBatch(batch: Float32Array, n: number, c: number, h: number, w: number, options: AugmentOptions, rng: Rng): Float32Array {
  if (batch.length !== n * c * h * w) {
    throw new FusionError('SHAPE_MISMATCH', `augment: batch of ${batch.length} values is not ${n}×${c}×${h}×${w}`);
  }
  // One value (or a one-element list, e.g. grayscale statistics over a repeated channel) fills every channel.
  const given = options.fill ?? 0;
  const fills = Array.isArray(given) && given.length !== 1 ? given : Array.from({ length: c }, () => (Array.isArray(given) ? given[0] : (given as number)));
  if (fills.length !== c) throw new FusionError('INVALID_ARGUMENT', `augment: fill has ${fills.length} values for ${c} channels`, { field: 'fill' });
  const p = options.padding;
  const out = new Float32Array(batch.length);
  for (let s = 0; s < n; s++) {
    const dy = p > 0 ? rng.integer(2 * p + 1) - p : 0;
    const dx = p > 0 ? rng.integer(2 * p + 1) - p : 0;
    const flip = options.flip && rng.uniform() < 0.5;
    for (let ch = 0; ch < c; ch++) {
      const base = (s * c + ch) * h * w;
      for (let y = 0; y < h; y++) {
        const sy = y + dy;
        for (let x = 0; x < w; x++) {
          const ox = flip ? w - 1 - x : x;
          const sx = ox + dx;
          out[base + y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? batch[base + sy * w + sx] : fills[ch];
        }
      }
    }
  }
  return out;
}

/** The usual CIFAR training augmentation: RandomCrop(padding 4) and a horizontal flip. */
export function cifarAugment(fill: number | number[] = 0): AugmentOptions {
  return { padding: 4, flip: true, fill };
}

/**
 * The fill that stands for a zero pixel after normalising with `mean` and
 * `std` (one value, or one per channel): (0 − mean)/std, per channel.
 */
export function normalizedZero(mean: number | readonly number[], std: number | readonly number[]): number[] {
  const means = typeof mean === 'number' ? [mean] : [...mean];
  const stds = typeof std === 'number' ? [std] : [...std];
  const channels = Math.max(means.length, stds.length);
  if ((means.length !== 1 && means.length !== channels) || (stds.length !== 1 && stds.length !== channels)) {
    throw new FusionError('INVALID_ARGUMENT', `augment: ${means.length} means and ${stds.length} stds do not match`, { field: 'fill' });
  }
  return Array.from({ length: channels }, (_, k) => (0 - means[means.length === 1 ? 0 : k]) / stds[stds.length === 1 ? 0 : k]);
}

/**
 * [C, H, W] of one image, from the data's NCHW shape when it has one, else
 * from the architecture: CNN inputs are [H, W, C], an MLP's 3-D input is
 * C,H,W (e.g. [1, 28, 28]). Flat inputs cannot be cropped.
 */
export function imageGeometry(arch: Arch, xShape: readonly number[]): [number, number, number] {
  if (xShape.length === 4) return [xShape[1], xShape[2], xShape[3]];
  if (arch.family !== 'mlp') return [arch.input[2], arch.input[0], arch.input[1]];
  if (arch.input.length === 3) return [arch.input[0], arch.input[1], arch.input[2]];
  throw new FusionError(
    'INVALID_ARGUMENT',
    `augmentation crops and flips images, but the data is ${xShape.length}-D and the MLP input [${arch.input.join(', ')}] is not C,H,W`,
    { field: 'augment' },
  );
}
