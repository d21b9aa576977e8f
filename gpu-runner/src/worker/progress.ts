/**
 * Overall job progress from (stage, fraction within it), and a throttle so a
 * job writes tens of progress events, not one per layer step. Stage weights
 * are rough shares of a typical MLP run; progress never goes backwards.
 */
import type { JobStage } from '@clafusion/contract';

type Ranges = Record<JobStage, [number, number]>;

const RANGES: Ranges = {
  download: [0, 0.05],
  activations: [0.05, 0.25],
  cost: [0.25, 0.35],
  alignment: [0.35, 0.4],
  balance: [0.4, 0.45],
  fusion: [0.45, 0.9],
  evaluation: [0.9, 0.97],
  // Only jobs with a finetune section reach it, and they use FINETUNE_RANGES.
  finetune: [0.97, 0.97],
  upload: [0.97, 1],
};

/** A job that finetunes spends most of its time training, so fusion gets the first fifth. */
const FINETUNE_RANGES: Ranges = {
  download: [0, 0.02],
  activations: [0.02, 0.07],
  cost: [0.07, 0.09],
  alignment: [0.09, 0.1],
  balance: [0.1, 0.11],
  fusion: [0.11, 0.18],
  evaluation: [0.18, 0.2],
  finetune: [0.2, 0.98],
  upload: [0.98, 1],
};

export function overallProgress(stage: JobStage, fraction: number, finetune = false): number {
  const [start, end] = (finetune ? FINETUNE_RANGES : RANGES)[stage];
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
    /** The job finetunes after fusion (its progress uses the finetuning shares). */
    private readonly finetune = false,
  ) {}

  /**
   * The overall progress to report, or null when this update is too close to
   * the last one. `always` reports it regardless (an epoch's metrics must
   * not be dropped), still never backwards.
   */
  next(stage: JobStage, fraction: number, always = false): number | null {
    const progress = Math.max(this.lastProgress, overallProgress(stage, fraction, this.finetune));
    const due =
      always || stage !== this.lastStage || progress - this.lastProgress >= this.minStep || this.now() - this.lastAt >= this.minIntervalMs;
    if (!due) return null;
    this.lastStage = stage;
    this.lastProgress = progress;
    this.lastAt = this.now();
    return progress;
  }
}
