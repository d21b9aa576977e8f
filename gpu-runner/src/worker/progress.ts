/**
 * Overall job progress from (stage, fraction within it), and a throttle so a
 * job writes tens of progress events, not one per layer step. Stage weights
 * are rough shares of a typical MLP run; progress never goes backwards.
 */
import type { JobStage } from '../../../api/src/contract/index.ts';

const RANGES: Record<JobStage, [number, number]> = {
  download: [0, 0.05],
  activations: [0.05, 0.25],
  cost: [0.25, 0.35],
  alignment: [0.35, 0.4],
  balance: [0.4, 0.45],
  fusion: [0.45, 0.9],
  evaluation: [0.9, 0.97],
  upload: [0.97, 1],
};

export function overallProgress(stage: JobStage, fraction: number): number {
  const [start, end] = RANGES[stage];
  return start + (end - start) * Math.min(1, Math.max(0, fraction));
}

export class ProgressThrottle {
  private lastStage: JobStage | null = null;
  private lastProgress = 0;
  private lastAt = -Infinity;

  constructor(
    private readonly minStep = 0.05,
    private readonly minIntervalMs = 1000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The overall progress to report, or null when this update is too close to the last one. */
  next(stage: JobStage, fraction: number): number | null {
    const progress = Math.max(this.lastProgress, overallProgress(stage, fraction));
    const due = stage !== this.lastStage || progress - this.lastProgress >= this.minStep || this.now() - this.lastAt >= this.minIntervalMs;
    if (!due) return null;
    this.lastStage = stage;
    this.lastProgress = progress;
    this.lastAt = this.now();
    return progress;
  }
}
