/**
 * What the fusion orchestration needs from its caller. The engine never reads
 * the clock or runs a network itself: the caller records activations (with
 * whichever tensor backend it chose) and measures stage times.
 */
import type { Model } from '../arch.ts';

export type FusionStage = 'activations' | 'cost' | 'alignment' | 'balance' | 'fusion';

export interface FusionHooks {
  /**
   * Runs `model` on the calibration samples and returns, per weight tensor,
   * the recorded values [t, width] (spec §2.2; the last entry is the logits).
   */
  record(model: Model, role: string): Promise<Float32Array[]>;
  /** Stage boundaries, so the caller can time them. */
  stage?(stage: FusionStage, phase: 'start' | 'end'): void;
  /** Fine-grained progress within a stage, fraction in [0, 1]. */
  progress?(stage: FusionStage, fraction: number, message: string): void;
}
