/**
 * CIFAR-10 binary batches (`data_batch_1.bin` … `test_batch.bin`): a sequence
 * of 3073-byte records, each one label byte (0–9) followed by a 32×32 image
 * as 1024 red, 1024 green then 1024 blue bytes — already CHW, so records map
 * straight onto NCHW.
 */
import { FusionError } from '@clafusion/model-format/errors';
import { readFilePrefix } from './byte-source.ts';
import { DEFAULT_MAX_ELEMENTS, type Dataset, type ReadLimits, checkElementBudget, samplesToRead } from './dataset.ts';

export const CIFAR10_IMAGE_SHAPE = [3, 32, 32] as const;
const IMAGE_BYTES = 3 * 32 * 32;
const RECORD_BYTES = 1 + IMAGE_BYTES;
const CLASSES = 10;

/** Parses CIFAR-10 batch bytes into x [N, 3, 32, 32] in [0, 1] and labels. */
export function parseCifar10Batch(bytes: Uint8Array, source: string, limits: ReadLimits = {}, complete = true): Dataset {
  if (complete && bytes.byteLength % RECORD_BYTES !== 0) {
    throw new FusionError(
      'MALFORMED_FILE',
      `${source}: ${bytes.byteLength} bytes is not a whole number of ${RECORD_BYTES}-byte CIFAR-10 records`,
      { path: source },
    );
  }
  const n = samplesToRead(Math.floor(bytes.byteLength / RECORD_BYTES), limits);
  checkElementBudget(source, n, IMAGE_BYTES, limits);
  const x = new Float32Array(n * IMAGE_BYTES);
  const y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const base = r * RECORD_BYTES;
    const label = bytes[base];
    if (label >= CLASSES) {
      throw new FusionError('MALFORMED_FILE', `${source}: record ${r} has label ${label}, not a CIFAR-10 class (0–9)`, {
        path: source,
        record: r,
      });
    }
    y[r] = label;
    for (let i = 0; i < IMAGE_BYTES; i++) x[r * IMAGE_BYTES + i] = bytes[base + 1 + i] / 255;
  }
  return { x: { shape: [n, ...CIFAR10_IMAGE_SHAPE], data: x }, y };
}

/** Reads a CIFAR-10 batch file (optionally gzipped), only as far as `limit` needs. */
export async function readCifar10Batch(path: string, limits: ReadLimits = {}): Promise<Dataset> {
  // Without a limit, read one record past the element budget: a bigger file
  // then fails the budget check instead of being read whole.
  const budgetRecords = Math.floor((limits.maxElements ?? DEFAULT_MAX_ELEMENTS) / IMAGE_BYTES) + 1;
  const records = limits.limit === undefined ? budgetRecords : samplesToRead(limits.limit, limits);
  const { bytes, complete } = await readFilePrefix(path, records * RECORD_BYTES);
  return parseCifar10Batch(bytes, path, limits, complete);
}
