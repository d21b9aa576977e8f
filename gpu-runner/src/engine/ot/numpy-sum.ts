/**
 * `np.sum` of a contiguous float64 vector, bit for bit.
 *
 * POT's `ot.emd` rescales `b = b * a.sum() / b.sum()` before calling C; with uniform marginals
 * the two sums are not exactly 1, so b's entries move by an ulp or so, and the network
 * simplex's ratio-test ties (and hence the plan on degenerate problems) depend on those last
 * bits. NumPy's add-reduce starts from the identity 0 and adds `pairwise_sum` over the whole
 * contiguous array (numpy/core/src/umath/loops_utils.h.src, `@TYPE@_pairwise_sum`,
 * PW_BLOCKSIZE = 128): below 8 elements a plain loop, up to 128 eight interleaved accumulators
 * combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) then the tail, above that a split at
 * n/2 rounded down to a multiple of 8.
 */
const PW_BLOCKSIZE = 128;

function pairwiseSum(x: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += x[start + i];
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = x[start + j];
    let i: number;
    for (i = 8; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] += x[start + i + j];
    }
    // prettier-ignore
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += x[start + i];
    return res;
  }
  let n2 = Math.trunc(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(x, start, n2) + pairwiseSum(x, start + n2, n - n2);
}

/** `np.add.reduce(x)` for a 1-D contiguous float64 array. */
export function numpySum(x: ArrayLike<number>): number {
  return 0 + pairwiseSum(x, 0, x.length);
}
