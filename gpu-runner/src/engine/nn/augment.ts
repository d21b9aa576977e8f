/**
 * CIFAR-style training augmentation on host batches (algorithm.md §2.1,
 * §10.1): RandomCrop(size, padding 4, zero fill) then RandomHorizontalFlip(0.5),
 * drawn from the seeded RNG so a run is reproducible.
 *
 * Batches are NCHW and usually already normalised; torchvision pads the raw
 * image with 0 before normalising, so the fill of a normalised batch is
 * (0 − mean)/std per channel — pass it as `fill`.
 */
import { FusionError } from '../errors.ts';
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
  const fills = Array.isArray(options.fill) ? options.fill : Array.from({ length: c }, () => (options.fill as number | undefined) ?? 0);
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
