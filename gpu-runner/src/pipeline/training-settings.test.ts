import { describe, expect, it } from 'vitest';
import { isFusionError } from '@clafusion/model-format/errors';
import { resolveTrainingSettings } from './training-settings.ts';

function fieldOf(run: () => unknown): unknown {
  try {
    run();
  } catch (e) {
    return isFusionError(e) ? e.details.field : e;
  }
  return undefined;
}

describe('training settings from presets (§10)', () => {
  it('takes the family default preset and overrides only what is given', () => {
    const vgg = resolveTrainingSettings('vgg', 'finetune', { epochs: 3, lr: 0.02 }, 7);
    expect(vgg).toEqual({
      preset: 'finetune-vgg-cifar',
      epochs: 3,
      lr: 0.02,
      momentum: 0.9,
      weightDecay: 5e-4,
      batchSize: 128,
      schedule: { milestones: [20, 40, 60, 80, 100], gamma: 0.5 },
      augment: true,
      augmentFill: 0,
      seed: 7,
      report: 'best',
    });
    expect(resolveTrainingSettings('resnet', 'distill', { alpha: 0.7, temperature: 4 })).toMatchObject({
      preset: 'distill-resnet-cifar', lr: 0.1, batchSize: 256, alpha: 0.7, temperature: 4, seed: 0,
    });
    // A constant rate is asked for with null; an explicit preset wins over the family default.
    expect(resolveTrainingSettings('mlp', 'finetune', { preset: 'vgg-cifar', schedule: null, augment: false })).toMatchObject({
      preset: 'vgg-cifar', schedule: null, augment: false, epochs: 300,
    });
  });

  it('names the field at fault', () => {
    expect(fieldOf(() => resolveTrainingSettings('mlp', 'finetune', { preset: 'nope' }))).toBe('preset');
    expect(fieldOf(() => resolveTrainingSettings('mlp', 'finetune', { epochs: -1 }))).toBe('epochs');
    expect(fieldOf(() => resolveTrainingSettings('mlp', 'finetune', { batchSize: 0 }))).toBe('batchSize');
    expect(fieldOf(() => resolveTrainingSettings('mlp', 'finetune', { augmentFill: [Number.NaN] }))).toBe('augmentFill');
    expect(fieldOf(() => resolveTrainingSettings('mlp', 'distill', { alpha: 1.5, temperature: 4 }))).toBe('alpha');
    expect(fieldOf(() => resolveTrainingSettings('mlp', 'distill', { alpha: 0.5, temperature: 0 }))).toBe('temperature');
  });
});
