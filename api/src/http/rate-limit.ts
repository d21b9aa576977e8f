/**
 * Per-API-key rate limits: a token bucket per key, in this process's memory.
 * Each API instance limits on its own, so N instances behind a balancer allow
 * up to N × the rate; that is the price of needing no shared state on the
 * request path (README, "Limits").
 *
 * Buckets are keyed by a hash of the presented bearer token, not by the
 * tenant: that needs no store read before the limit is applied, one tenant's
 * keys are limited separately, and a key id alone (which is not secret)
 * cannot drain someone else's bucket. Requests without a bearer token are
 * not limited here; they get 401 without touching the store.
 */
import { createHash } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import type { ApiErrorBody } from '@clafusion/contract';
import type { Env } from './binary-routes.ts';

export interface RateLimitSettings {
  /** Tokens added per second: the sustained request rate of one key. */
  perSecond: number;
  /** Bucket size: the burst one key may send after being idle. */
  burst: number;
}

/** Above this many buckets, full ones are dropped (a full bucket is the same as none). */
const MAX_BUCKETS = 10_000;

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly settings: RateLimitSettings,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(settings.perSecond > 0) || !(settings.burst >= 1)) {
      throw new Error(`rate limit needs perSecond > 0 and burst ≥ 1, got ${JSON.stringify(settings)}`);
    }
  }

  /** Takes one token for `key`: 0 when granted, else the seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.refilled(this.buckets.get(key), now);
    // Re-inserting keeps the Map in least-recently-used order for eviction.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > MAX_BUCKETS) this.evict(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.settings.perSecond;
  }

  get size(): number {
    return this.buckets.size;
  }

  private refilled(bucket: Bucket | undefined, now: number): Bucket {
    if (bucket === undefined) return { tokens: this.settings.burst, updatedMs: now };
    const tokens = Math.min(this.settings.burst, bucket.tokens + ((now - bucket.updatedMs) / 1000) * this.settings.perSecond);
    return { tokens, updatedMs: now };
  }

  /**
   * Drops full buckets (no information lost), then the least recently used,
   * down to 90% of the bound, so a flood of new keys pays for one sweep per
   * thousand requests instead of one per request.
   */
  private evict(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.refilled(bucket, now).tokens >= this.settings.burst) this.buckets.delete(key);
    }
    const target = Math.floor(MAX_BUCKETS * 0.9);
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(key);
    }
  }
}

/** Hono middleware answering 429 `rate_limited` with `Retry-After` (whole seconds, at least 1). */
export function rateLimit(settings: RateLimitSettings) {
  const buckets = new TokenBuckets(settings);
  return createMiddleware<Env>(async (c, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (match === null) return next();
    const wait = buckets.take(createHash('sha256').update(match[1]).digest('base64'));
    if (wait === 0) return next();
    const retryAfter = Math.max(1, Math.ceil(wait));
    const error: ApiErrorBody = {
      code: 'rate_limited',
      message: `Too many requests for this API key; retry after ${retryAfter} s`,
      details: { limit_per_second: settings.perSecond, burst: settings.burst, retry_after_seconds: retryAfter },
    };
    return c.json({ error }, 429, { 'retry-after': String(retryAfter) });
  });
}
