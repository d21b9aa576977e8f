import { describe, expect, it } from 'vitest';
import { augmentBatch } from './augment.ts';
import { Rng } from '../rng.ts';

const image = (c: number, h: number, w: number) => Float32Array.from({ length: c * h * w }, (_, i) => i + 1);

describe('CIFAR augmentation', () => {
  it('without padding or flip is the identity', () => {
    const x = image(3, 4, 5);
    expect(augmentBatch(x, 1, 3, 4, 5, { padding: 0, flip: false }, new Rng(1))).toEqual(x);
  });

  it('each output is a shifted, possibly mirrored window of the padded input', () => {
    const c = 2;
    const h = 6;
    const w = 6;
    const n = 40;
    const x = new Float32Array(n * c * h * w);
    for (let s = 0; s < n; s++) x.set(image(c, h, w), s * c * h * w);
    const out = augmentBatch(x, n, c, h, w, { padding: 2, flip: true, fill: [-7, -9] }, new Rng(3));
    let flips = 0;
    for (let s = 0; s < n; s++) {
      const o = out.subarray(s * c * h * w, (s + 1) * c * h * w);
      // Find the (dy, dx, flip) explaining the output exactly.
      let found = false;
      for (const flip of [false, true])
        for (let dy = -2; dy <= 2 && !found; dy++)
          for (let dx = -2; dx <= 2 && !found; dx++) {
            let ok = true;
            for (let ch = 0; ch < c && ok; ch++)
              for (let y = 0; y < h && ok; y++)
                for (let xx = 0; xx < w && ok; xx++) {
                  const sy = y + dy;
                  const sx = (flip ? w - 1 - xx : xx) + dx;
                  const want = sy >= 0 && sy < h && sx >= 0 && sx < w ? ch * h * w + sy * w + sx + 1 : ch === 0 ? -7 : -9;
                  ok = o[ch * h * w + y * w + xx] === want;
                }
            if (ok) {
              found = true;
              if (flip && dx !== 0) flips++;
            }
          }
      expect(found).toBe(true);
    }
    expect(flips).toBeGreaterThan(0);
  });

  it('is reproducible from the seed', () => {
    const x = Float32Array.from({ length: 4 * 3 * 8 * 8 }, (_, i) => Math.sin(i));
    const a = augmentBatch(x, 4, 3, 8, 8, { padding: 4, flip: true }, new Rng(9));
    const b = augmentBatch(x, 4, 3, 8, 8, { padding: 4, flip: true }, new Rng(9));
    expect(a).toEqual(b);
  });
});
