/** The API's early compatibility check says exactly what the engine says for the same models. */
import { describe, expect, it } from 'vitest';
import type { Arch } from '../gpu-runner/model-format/src/arch.ts';
import { defaultFusionOptions } from '../gpu-runner/src/engine/fusion/options.ts';
import { initModel } from '../gpu-runner/src/engine/nn/init.ts';
import { runFusion } from '../gpu-runner/src/pipeline/run-fusion.ts';
import type { ArchJson } from '../api/contract/src/index.ts';
import { checkCompatible } from '../api/src/jobs/compatibility.ts';

const mlp: Arch = { family: 'mlp', input: [12], hidden: [8], classes: 3, bias: false };
const vgg: Arch = { family: 'vgg', input: [4, 4, 3], config: [4, 'M'], classes: 3, bias: false };

async function engineMessage(archs: Arch[]): Promise<string> {
  const models = archs.map((arch, i) => ({ model: initModel(arch, i), label: `m${i + 1}.safetensors` }));
  const calibration = { shape: [2, 12], data: new Float32Array(24) };
  return runFusion({ models, calibration, samples: null, options: defaultFusionOptions('mlp') }, { backend: 'none', now: () => 0 }).then(
    () => 'no error',
    (e: Error) => e.message,
  );
}

function apiMessage(archs: Arch[]): string {
  try {
    checkCompatible(archs.map((arch, i) => ({ arch: arch as unknown as ArchJson, label: `m${i + 1}.safetensors` })));
    return 'no error';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('checkCompatible', () => {
  const cases: [string, Arch[]][] = [
    ['different families', [mlp, vgg]],
    ['different class counts', [mlp, { ...mlp, classes: 4 }]],
    ['different input sizes', [mlp, { ...mlp, input: [13] }]],
    ['a third model that differs', [mlp, { ...mlp, hidden: [6, 5] }, { ...mlp, classes: 2 }]],
  ];
  for (const [name, archs] of cases) {
    it(`${name}: the engine's words`, async () => {
      const expected = await engineMessage(archs);
      expect(expected).not.toBe('no error');
      expect(apiMessage(archs)).toBe(expected);
    });
  }

  it('accepts models that differ only in depth and width', () => {
    expect(apiMessage([mlp, { ...mlp, hidden: [10, 6, 4] }])).toBe('no error');
  });
});
