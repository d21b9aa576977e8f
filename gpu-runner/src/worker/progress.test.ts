import { describe, expect, it } from 'vitest';
import { ProgressThrottle, overallProgress } from './progress.ts';

describe('job progress', () => {
  it('maps each stage onto its share of 0..1, in pipeline order', () => {
    expect(overallProgress('download', 0)).toBe(0);
    expect(overallProgress('upload', 1)).toBe(1);
    expect(overallProgress('fusion', 0.5)).toBeCloseTo(0.675);
    expect(overallProgress('cost', 0)).toBe(overallProgress('activations', 1));
    expect(overallProgress('fusion', 2)).toBe(overallProgress('fusion', 1));
  });

  it('reports stage changes and steps of 5 %, at least every second, never backwards', () => {
    let now = 0;
    const throttle = new ProgressThrottle(0.05, 1000, () => now);
    expect(throttle.next('fusion', 0)).toBeCloseTo(0.45);
    expect(throttle.next('fusion', 0.05)).toBeNull();
    expect(throttle.next('fusion', 0.12)).toBeCloseTo(0.504);
    now = 1500;
    expect(throttle.next('fusion', 0.13)).toBeCloseTo(0.5085);
    // Stages can repeat (activations are recorded again after balancing); progress holds.
    expect(throttle.next('activations', 0)).toBeCloseTo(0.5085);
  });

  it('gives finetuning most of a finetuning job, and always reports an epoch', () => {
    expect(overallProgress('finetune', 0, true)).toBe(overallProgress('evaluation', 1, true));
    expect(overallProgress('finetune', 1, true)).toBe(overallProgress('upload', 0, true));
    expect(overallProgress('finetune', 1, true) - overallProgress('finetune', 0, true)).toBeGreaterThan(0.7);
    const throttle = new ProgressThrottle(0.05, 1000, () => 0, true);
    expect(throttle.next('finetune', 0.1)).toBeCloseTo(0.278);
    expect(throttle.next('finetune', 0.11)).toBeNull();
    expect(throttle.next('finetune', 0.11, true)).toBeCloseTo(0.2858);
  });
});
