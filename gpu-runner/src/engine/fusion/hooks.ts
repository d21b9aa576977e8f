/**
 * What the fusion orchestration needs from its caller. The engine never reads
 * the clock or runs a network itself: the caller records activations (with
 * whichever tensor backend it chose) and measures stage times.
 */
import type { Model } from '@clafusion/model-format/arch';
import type { Tap } from './taps.ts';

export type FusionStage = 'activations' | 'cost' | 'alignment' | 'balance' | 'fusion';

export interface FusionHooks {
  /**
   * Runs `model` on the calibration samples and returns, per weight tensor,
   * the recorded values with their per-sample shape (spec §2.2; the last
   * entry is the logits). The same model object may be asked for twice (as
   * CLA's A and as OT's N0): callers may cache by identity.
   */
  record(model: Model, role: string): Promise<Tap[]>;
  /**
   * The engine will not ask for `model`'s taps again: a caching recorder
   * may drop them, so they are freed once the engine's own references go
   * (OT fusion lets go of each layer's taps after using them).
   */
  release?(model: Model): void;
  /**
   * How many calibration rows (samples, t) every tap `record` returns holds.
   * The count travels with the recorder rather than as an argument through
   * the engine; it is also needed where nothing is recorded (weight-based
   * OT normalises distances by it, as the official code does).
   */
  readonly rows: number;
  /** Stage boundaries, so the caller can time them. */
  stage?(stage: FusionStage, phase: 'start' | 'end'): void;
  /** Fine-grained progress within a stage, fraction in [0, 1]. */
  progress?(stage: FusionStage, fraction: number, message: string): void;
}
