/**
 * Measuring helpers for the load script: an open-loop request driver (a
 * request is started on schedule whether or not earlier ones finished, so a
 * slow server shows up as latency, not as a lower offered rate), with a cap
 * on requests in flight so a stalled server cannot make the driver itself
 * run out of memory; percentiles; a memory sampler for this process; memory
 * growth over a series of samples; a bounded-concurrency map.
 */

export interface RateResult {
  offered_per_s: number;
  sent: number;
  ok: number;
  errors: number;
  /** Requests not started because `maxInFlight` were already outstanding. */
  dropped: number;
  achieved_per_s: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (v: number) => Math.round(v * 100) / 100;

/** Calls `request` `rate` times a second for `seconds`; `request` resolves true on success. */
export async function driveAtRate(rate: number, seconds: number, maxInFlight: number, request: () => Promise<boolean>): Promise<RateResult> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let dropped = 0;
  let inFlight = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight >= maxInFlight) {
      dropped++;
      continue;
    }
    inFlight++;
    const t0 = performance.now();
    pending.push(
      request()
        .then((success) => (success ? ok++ : errors++), () => errors++)
        .then(() => {
          latencies.push(performance.now() - t0);
          inFlight--;
        }),
    );
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    offered_per_s: rate,
    sent: total - dropped,
    ok,
    errors,
    dropped,
    achieved_per_s: round(ok / elapsed),
    p50_ms: round(percentile(latencies, 50)),
    p90_ms: round(percentile(latencies, 90)),
    p99_ms: round(percentile(latencies, 99)),
    max_ms: round(latencies[latencies.length - 1] ?? Number.NaN),
  };
}

export interface MemorySample {
  t_s: number;
  rss_mb: number;
  heap_mb: number;
  external_mb: number;
}

/** Samples this process's memory every `everyMs` until stopped. */
export function sampleMemory(everyMs: number): { stop(): MemorySample[] } {
  const samples: MemorySample[] = [];
  const start = performance.now();
  const take = () => {
    const m = process.memoryUsage();
    const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
    samples.push({ t_s: Math.round((performance.now() - start) / 100) / 10, rss_mb: mb(m.rss), heap_mb: mb(m.heapUsed), external_mb: mb(m.external) });
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

export interface Growth {
  samples: number;
  rss_first_mb: number;
  rss_last_mb: number;
  rss_growth_mb: number;
  rss_peak_mb: number;
  heap_first_mb: number;
  heap_last_mb: number;
  heap_growth_mb: number;
}

/** Mean RSS and heap over the first and the last third of the samples (bytes in, MB out). */
export function growth(samples: { rss: number; heap: number }[]): Growth {
  const third = Math.max(1, Math.floor(samples.length / 3));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const mb = (b: number) => round(b / 2 ** 20);
  const first = samples.slice(0, third);
  const last = samples.slice(-third);
  const rssFirst = mb(mean(first.map((s) => s.rss)));
  const rssLast = mb(mean(last.map((s) => s.rss)));
  const heapFirst = mb(mean(first.map((s) => s.heap)));
  const heapLast = mb(mean(last.map((s) => s.heap)));
  return {
    samples: samples.length,
    rss_first_mb: rssFirst,
    rss_last_mb: rssLast,
    rss_growth_mb: round(rssLast - rssFirst),
    rss_peak_mb: mb(Math.max(0, ...samples.map((s) => s.rss))),
    heap_first_mb: heapFirst,
    heap_last_mb: heapLast,
    heap_growth_mb: round(heapLast - heapFirst),
  };
}

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapConcurrent<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}
