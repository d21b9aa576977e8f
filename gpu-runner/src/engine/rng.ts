/**
 * Seeded pseudo-random numbers for every random choice the engine makes
 * (initialisation, shuffling, random mappings).
 *
 * The generator is xoshiro128** (Blackman & Vigna), seeded through splitmix32.
 * Both use only 32-bit integer arithmetic (`Math.imul`, shifts), so the stream
 * of integers, uniforms, integer draws and shuffles is bit-identical on every
 * JavaScript engine and CPU. `normal()` additionally calls `Math.log` and
 * `Math.sqrt`; sqrt is correctly rounded by IEEE 754, and V8 computes log with
 * its fdlibm port on every platform, so it too is reproducible wherever Node
 * runs.
 *
 * It is not PyTorch's Mersenne Twister: seeds do not reproduce torch's draws.
 * Parity with Python is done by exporting tensors, never by sharing seeds.
 */
import { FusionError } from '@clafusion/model-format/errors';

const TWO_POW_32 = 4294967296;
/** 2^-53: turns a 53-bit integer into a double in [0, 1). */
const TWO_POW_MINUS_53 = 1 / 9007199254740992;

/** splitmix32 step: a good bijective mixer used only to expand the seed. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /**
   * @param seed any safe integer (negative allowed). Both 32-bit halves of the
   *   seed are mixed in, so seeds that differ only above bit 31 still differ.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new FusionError('INVALID_ARGUMENT', `seed must be a safe integer, got ${seed}`, { field: 'seed' });
    }
    const lo = seed | 0;
    const hi = Math.floor(seed / TWO_POW_32) | 0;
    const st = { s: lo ^ Math.imul(hi, 0x632be5ab) };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    // xoshiro's only forbidden state is all zeros; splitmix32 cannot produce
    // four zeros in a row, but keep the guard explicit.
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /**
   * A generator in an explicit xoshiro128** state (not all zero). Used to
   * check the core against the published reference output; engine code seeds
   * with the constructor.
   */
  static fromState(a: number, b: number, c: number, d: number): Rng {
    if (((a | b | c | d) >>> 0) === 0) {
      throw new FusionError('INVALID_ARGUMENT', 'xoshiro128** state must not be all zero', { field: 'state' });
    }
    const rng = new Rng(0);
    rng.a = a | 0;
    rng.b = b | 0;
    rng.c = c | 0;
    rng.d = d | 0;
    return rng;
  }

  /** Next raw 32-bit output as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /**
   * A double uniform in [lo, hi) (default [0, 1)), built from 53 random bits
   * so every representable step of the unit interval is reachable.
   */
  uniform(lo = 0, hi = 1): number {
    const high27 = this.nextUint32() >>> 5;
    const low26 = this.nextUint32() >>> 6;
    const u = (high27 * 67108864 + low26) * TWO_POW_MINUS_53;
    return lo + (hi - lo) * u;
  }

  /**
   * A normal draw (Marsaglia's polar method, no trigonometry). The second
   * value of each pair is discarded rather than cached, so the generator's
   * state is just the four words and `normal()` calls never interact with
   * other calls through a hidden spare.
   */
  normal(mean = 0, std = 1): number {
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) return mean + std * u * Math.sqrt((-2 * Math.log(s)) / s);
    }
  }

  /**
   * An integer uniform in [0, n), without modulo bias (rejection of the top
   * partial range of 2^32). n must be an integer in [1, 2^32].
   */
  integer(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new FusionError('INVALID_ARGUMENT', `integer(n) needs an integer n in [1, 2^32], got ${n}`, { field: 'n' });
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** `count` integers uniform in [0, n). */
  integers(n: number, count: number): Int32Array | Float64Array {
    const out = n <= 2147483648 ? new Int32Array(count) : new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = this.integer(n);
    return out;
  }

  /** Shuffles `items` in place (Fisher–Yates, last position first) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.integer(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A uniformly random permutation of 0..n−1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** Fills `out` with uniforms in [lo, hi) (rounded to the array's precision). */
  fillUniform<A extends Float32Array | Float64Array>(out: A, lo: number, hi: number): A {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(lo, hi);
    return out;
  }

  /**
   * An independent generator seeded from this one's next outputs: lets one
   * seed drive several consumers (initialisation, shuffling) whose streams do
   * not shift when another consumer draws more or fewer numbers.
   */
  fork(): Rng {
    const seed = (this.nextUint32() >>> 11) * TWO_POW_32 + this.nextUint32();
    return new Rng(seed);
  }
}

/** Accepts either a generator or a seed for one. */
export function toRng(rngOrSeed: Rng | number): Rng {
  return typeof rngOrSeed === 'number' ? new Rng(rngOrSeed) : rngOrSeed;
}
