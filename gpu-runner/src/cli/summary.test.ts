import { describe, expect, it } from 'vitest';
import type { Arch } from '@clafusion/model-format/arch';
import type { FusionReport } from '../pipeline/report.ts';
import { REPAIR_HINT_GAP, formatSummary } from './summary.ts';

const vgg: Arch = { family: 'vgg', input: [32, 32, 3], config: [8, 'M', 16, 'M'], classes: 10, bias: false, batchnorm: false };
const resnet: Arch = { family: 'resnet', input: [32, 32, 3], blocks: [2, 2], widths: [8, 16], classes: 10, bias: false, batchnorm: false };
const mlp: Arch = { family: 'mlp', input: [784], hidden: [32], classes: 10, bias: false };

/** The fields formatSummary reads, for a fused `arch` with these accuracies. */
function report(arch: Arch, accuracy: Partial<NonNullable<FusionReport['accuracy']>>, extra: Partial<FusionReport> = {}): FusionReport {
  return {
    backend: 'cpu',
    inputs: [],
    alignment: { groups: [] },
    balance: { method: 'add', depthAligned: [] },
    fusion: { method: 'ot-activations' },
    fused: { arch, sha256: null, parameters: 0 },
    accuracy: { models: [0.9, 0.9], ensemble: 0.9, depthAligned: [], depthAlignedInputs: [], samples: 100, fused: 0.9, ...accuracy },
    timings: { total: 1 },
    ...extra,
  } as unknown as FusionReport;
}

const hint = (r: FusionReport) => formatSummary(r, 'fused.safetensors').split('\n').find((l) => l.includes('hint:'));

describe('fuse summary: the REPAIR hint', () => {
  it('points a fused CNN far below the ensemble to --repair on, with the gap in points', () => {
    expect(hint(report(vgg, { fused: 0.341, ensemble: 0.901 }))).toBe(
      '  hint: the fused VGG is 56.0 points below the ensemble before any training; ' +
        '--repair on renormalises its channels on the calibration data (README: REPAIR), --finetune trains it',
    );
    expect(hint(report(resnet, { fused: 0.45, ensemble: 0.9 }))).toContain('the fused ResNet is 45.0 points');
  });

  it('says nothing when the gap is small, for MLPs, once repaired, or when the model was trained after fusion', () => {
    expect(hint(report(vgg, { fused: 0.9 - REPAIR_HINT_GAP / 2, ensemble: 0.9 }))).toBeUndefined();
    expect(hint(report(mlp, { fused: 0.3, ensemble: 0.9 }))).toBeUndefined();
    expect(hint(report(vgg, { fused: 0.3, repaired: 0.7, ensemble: 0.9 }))).toBeUndefined();
    const trained = { kind: 'finetune', history: [], settings: undefined } as unknown as FusionReport['training'];
    expect(hint(report(vgg, { fused: 0.3, ensemble: 0.9 }, { training: trained }))).toBeUndefined();
  });
});
