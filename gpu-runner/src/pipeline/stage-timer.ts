/**
 * Accumulates wall-clock seconds per stage from start/end events. A stage may
 * run several times (activations are recorded for CLA and again for OT); its
 * time is the sum.
 */
export class StageTimer<S extends string> {
  private readonly started = new Map<S, number>();
  private readonly totals = new Map<S, number>();

  constructor(private readonly now: () => number) {}

  start(stage: S): void {
    this.started.set(stage, this.now());
  }

  end(stage: S): void {
    const t0 = this.started.get(stage);
    if (t0 === undefined) return;
    this.started.delete(stage);
    this.totals.set(stage, (this.totals.get(stage) ?? 0) + (this.now() - t0) / 1000);
  }

  /** Seconds per stage, with 0 for stages that never ran. */
  seconds(stages: readonly S[]): Record<S, number> {
    return Object.fromEntries(stages.map((s) => [s, round(this.totals.get(s) ?? 0)])) as Record<S, number>;
  }
}

function round(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}
