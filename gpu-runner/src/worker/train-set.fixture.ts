/**
 * A six-row labelled dataset written as a safetensors file, for the tests
 * that compare a CLI flag (which loads the file) with an API field (whose
 * runner parses the uploaded bytes): `path` for `--train`, `data` as the
 * runner sees it. Each call writes its own temp folder; `remove` deletes it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeSafetensors } from '@clafusion/model-format/safetensors';
import { parseDatasetSafetensors } from '../io/datasets.ts';

export function writeTrainSet(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, 'train.safetensors');
  writeFileSync(
    path,
    serializeSafetensors([
      ['x', { shape: [6, 4], data: Array.from({ length: 24 }, (_, i) => i / 10) }],
      ['y', { dtype: 'I64', shape: [6], data: [0, 1, 2, 0, 1, 2] }],
    ]),
  );
  const uploaded = parseDatasetSafetensors(readFileSync(path), 'train.safetensors');
  return { path, data: { x: uploaded.x, y: uploaded.y! }, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
