/** How long to wait before a failed job's next attempt. */
export interface Backoff {
  type: 'fixed' | 'exponential';
  /** fixed: every wait; exponential: the first wait, doubled after each failure. */
  delayMs: number;
}

/** The wait after the `failures`-th failure (1-based), the same formula BullMQ uses. */
export function backoffDelay(backoff: Backoff, failures: number): number {
  return backoff.type === 'fixed' ? backoff.delayMs : Math.round(2 ** (failures - 1) * backoff.delayMs);
}
