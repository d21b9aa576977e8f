/**
 * Which input a model-file error is about. A fusion reads several model
 * files; "safetensors header length … exceeds the limit" alone does not say
 * which one is bad, so the CLI and the runner put the input's position and
 * file name in front: `model 2 (b.safetensors): …`, as the API names an upload.
 */
import { FusionError } from '@clafusion/model-format/errors';

/** `model 2 (b.pt)`: 1-based position among the inputs and the file's name. */
export function modelLabel(index: number, name: string, role = 'model'): string {
  return `${role} ${index + 1} (${name})`;
}

/** Re-throws a FusionError with `label` in front of its message; other errors pass unchanged. */
export function labelModelError(err: unknown, label: string): unknown {
  if (!(err instanceof FusionError)) return err;
  return new FusionError(err.code, `${label}: ${err.message}`, err.details);
}

/** Runs a model read, naming the input in any FusionError it throws. */
export async function readLabelled<T>(label: string, read: () => Promise<T> | T): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw labelModelError(err, label);
  }
}
