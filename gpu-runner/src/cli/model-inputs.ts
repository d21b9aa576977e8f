/** Reading the CLI's model-file arguments, each error naming the input (`model 2 (b.pt): …`). */
import { basename } from 'node:path';
import { type ModelFile, readModelFile } from '../io/model-file.ts';
import { modelLabel, readLabelled } from '../io/model-label.ts';

export function readModelInputs(paths: readonly string[], role = 'model'): Promise<ModelFile[]> {
  return Promise.all(paths.map((p, i) => readLabelled(modelLabel(i, basename(p), role), () => readModelFile(p))));
}

/** A single model argument (finetune's --model, distill's --student): `student (s.pt): …`. */
export function readModelInput(path: string, role = 'model'): Promise<ModelFile> {
  return readLabelled(`${role} (${basename(path)})`, () => readModelFile(path));
}
