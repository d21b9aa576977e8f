import { describe, expect, it } from 'vitest';
import { addLayers, addLayersPlan } from './add-layers.ts';
import { randomInputs, randomMlp, referenceForward } from '../../../test/support/reference-mlp.ts';
import { type MlpArch, mlpWeightName } from '@clafusion/model-format/arch';

/** A deeper MLP architecture with m hidden layers (only its depth matters for adding layers). */
const deeper = (m: number): MlpArch => ({ family: 'mlp', input: [1], hidden: new Array(m).fill(1), classes: 1, bias: false });

describe('adding identity layers (spec §6.1)', () => {
  it('follows the slot plan of the spec example a = [1,2,5], m = 5', () => {
    expect(addLayersPlan([1, 2, 5], 5)).toEqual([0, 1, null, null, 2, 3]);
    expect(addLayersPlan([1, 3, 4], 4)).toEqual([0, null, 1, 2, 3]);
    // Without the first-layer constraint an identity can precede B's first layer.
    expect(addLayersPlan([2, 3, 4], 4)).toEqual([null, 0, 1, 2, 3]);
  });

  it('builds B′ with A′s depth and B′s widths', () => {
    const B = randomMlp({ family: 'mlp', input: [784], hidden: [400, 200, 100], classes: 10, bias: false }, 1);
    const Bp = addLayers(B, [1, 2, 5], deeper(5));
    expect(Bp.arch).toMatchObject({ hidden: [400, 200, 200, 200, 100] });
    expect(Bp.params.get(mlpWeightName(2))!.shape).toEqual([200, 200]);
    expect(Bp.params.get(mlpWeightName(4))!.data).toEqual(B.params.get(mlpWeightName(2))!.data);
    expect(Bp.params.get(mlpWeightName(5))!.data).toEqual(B.params.get(mlpWeightName(3))!.data);
  });

  for (const bias of [false, true]) {
    it(`preserves the function exactly (bias ${bias})`, () => {
      const B = randomMlp({ family: 'mlp', input: [12], hidden: [9, 7, 5], classes: 4, bias }, 2);
      const x = randomInputs(25, 12, 3);
      const before = referenceForward(B, x, 25).logits;
      for (const [mapping, m] of [
        [[1, 2, 5], 5],
        [[1, 3, 4], 4],
        [[1, 4, 6], 7],
      ] as const) {
        const after = referenceForward(addLayers(B, mapping, deeper(m)), x, 25).logits;
        expect(after).toEqual(before);
      }
    });
  }
});
