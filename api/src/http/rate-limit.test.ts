import { describe, expect, it } from 'vitest';
import { TokenBuckets } from './rate-limit.ts';

describe('TokenBuckets', () => {
  it('grants a burst, then refills at the rate and says how long to wait', () => {
    let now = 0;
    const buckets = new TokenBuckets({ perSecond: 2, burst: 3 }, () => now);
    expect([buckets.take('k'), buckets.take('k'), buckets.take('k')]).toEqual([0, 0, 0]);
    expect(buckets.take('k')).toBeCloseTo(0.5);
    now += 250;
    expect(buckets.take('k')).toBeCloseTo(0.25);
    now += 250;
    expect(buckets.take('k')).toBe(0);
    now += 60_000;
    // Refill stops at the burst.
    expect([buckets.take('k'), buckets.take('k'), buckets.take('k')]).toEqual([0, 0, 0]);
    expect(buckets.take('k')).toBeGreaterThan(0);
  });

  it('keeps keys apart', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, () => 0);
    expect(buckets.take('a')).toBe(0);
    expect(buckets.take('a')).toBeGreaterThan(0);
    expect(buckets.take('b')).toBe(0);
  });

  it('stays bounded under a flood of distinct keys, dropping full buckets first and never the busy one', () => {
    let now = 0;
    const buckets = new TokenBuckets({ perSecond: 1, burst: 2 }, () => now);
    buckets.take('busy');
    buckets.take('busy');
    for (let i = 0; i < 25_000; i++) {
      buckets.take(`k${i}`);
      buckets.take('busy');
      now += 0.01;
    }
    expect(buckets.size).toBeLessThanOrEqual(10_001);
    // The busy key was used last on every step, so it was never evicted and is still empty.
    expect(buckets.take('busy')).toBeGreaterThan(0);
  });

  it('refuses settings that would never grant', () => {
    expect(() => new TokenBuckets({ perSecond: 0, burst: 1 })).toThrow(/perSecond/);
    expect(() => new TokenBuckets({ perSecond: 1, burst: 0 })).toThrow(/burst/);
  });
});
