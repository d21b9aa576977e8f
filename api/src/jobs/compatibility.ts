/**
 * The engine's model-compatibility check (runFusion in
 * gpu-runner/src/pipeline/run-fusion.ts), applied when a job is created so
 * the user hears at once, in the same words, rather than from a failed job.
 * run-fusion.ts itself cannot be imported here: it pulls in tfjs.
 */
import type { ArchJson } from '@clafusion/contract';
import { ApiError } from '../errors.ts';

const numel = (shape: readonly number[]) => shape.reduce((n, d) => n * d, 1);

export function checkCompatible(models: { arch: ArchJson; label: string }[]): void {
  const first = models[0].arch;
  models.forEach((m, i) => {
    if (m.arch.family !== first.family) {
      throw new ApiError('incompatible_models', `model ${i + 1} (${m.label}) is a ${m.arch.family}, model 1 is a ${first.family}`, {
        field: `models.${i}`,
      });
    }
    if (m.arch.classes !== first.classes || numel(m.arch.input) !== numel(first.input)) {
      throw new ApiError('incompatible_models', `model ${i + 1} (${m.label}) has a different input size or class count from model 1`, {
        field: `models.${i}`,
      });
    }
  });
}
