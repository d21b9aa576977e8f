import { describe, expect, it } from 'vitest';
import { PRESETS, defaultPreset, isPresetName } from './presets.ts';

describe('training presets (paper Tables 6–8, spec §10)', () => {
  it('halve the VGG learning rate every 30 epochs up to 270', () => {
    expect(PRESETS['vgg-cifar'].schedule.milestones).toEqual([30, 60, 90, 120, 150, 180, 210, 240, 270]);
  });

  it('finetune for 120 epochs with lr ÷2 at 20, 40, 60, 80, 100 on CIFAR', () => {
    for (const name of ['finetune-resnet-cifar', 'finetune-vgg-cifar'] as const) {
      expect(PRESETS[name].epochs).toBe(120);
      expect(PRESETS[name].schedule).toEqual({ milestones: [20, 40, 60, 80, 100], gamma: 0.5 });
    }
    // VGG13_doub's base lr 0.05 divided by --retrain-lr-decay 5.
    expect(PRESETS['finetune-vgg-cifar'].lr).toBeCloseTo(0.01, 12);
  });

  it('pick the family default for each purpose', () => {
    expect(defaultPreset('resnet', 'finetune')).toBe('finetune-resnet-cifar');
    expect(defaultPreset('vgg', 'distill')).toBe('distill-vgg-cifar');
    expect(defaultPreset('mlp', 'train')).toBe('mlp-mnist');
    expect(isPresetName('vgg-cifar')).toBe(true);
    expect(isPresetName('toString')).toBe(false);
  });
});
