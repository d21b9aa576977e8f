/** Shared by the wasm kernels' tests. */

/** max |a − b| / max(1, max |b|): relative to the result's scale, so sums of many terms compare fairly. */
export function relErr(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}
