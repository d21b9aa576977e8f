/**
 * IDX files (the MNIST / Fashion-MNIST distribution format), plain or gzipped.
 *
 * Layout: 2 zero bytes, a type byte (0x08 = unsigned byte, the only type the
 * MNIST-style sets use), the number of dimensions, then each dimension as a
 * big-endian uint32, then the data in row-major order. Images are magic
 * 0x00000803 ([N, rows, cols]) and labels 0x00000801 ([N]).
 */
import { FusionError } from '@clafusion/model-format/errors';
import { readFilePrefix } from './byte-source.ts';
import { type ReadLimits, checkElementBudget, samplesToRead } from './dataset.ts';

const UNSIGNED_BYTE = 0x08;

interface IdxContents {
  /** Number of items the header declares (before `limit`). */
  declaredCount: number;
  /** Number of items read (`limit` applied). */
  count: number;
  /** Dimensions after the item axis ([rows, cols] for images, [] for labels). */
  itemShape: number[];
  /** The bytes of the items read (`limit` applied). */
  data: Uint8Array;
}

function malformed(path: string, problem: string): FusionError {
  return new FusionError('MALFORMED_FILE', `${path}: ${problem}`, { path });
}

async function readIdx(path: string, expectedDims: 1 | 3, what: string, limits: ReadLimits): Promise<IdxContents> {
  const headerLength = 4 + 4 * expectedDims;
  const head = await readFilePrefix(path, headerLength);
  if (head.bytes.byteLength < 4) throw malformed(path, `file is too short (${head.bytes.byteLength} bytes) to be an IDX file`);
  const dv = new DataView(head.bytes.buffer, head.bytes.byteOffset, head.bytes.byteLength);
  const magic = dv.getUint32(0, false);
  if (head.bytes[0] !== 0 || head.bytes[1] !== 0) {
    throw malformed(path, `not an IDX file (magic 0x${magic.toString(16).padStart(8, '0')})`);
  }
  if (head.bytes[2] !== UNSIGNED_BYTE) {
    throw new FusionError('UNSUPPORTED', `${path}: IDX element type 0x${head.bytes[2].toString(16)} is not supported (only 0x08, unsigned byte)`, {
      path,
    });
  }
  const expectedMagic = 0x800 + expectedDims;
  if (magic !== expectedMagic) {
    throw malformed(
      path,
      `IDX magic 0x${magic.toString(16).padStart(8, '0')} has ${head.bytes[3]} dimensions; ${what} need magic 0x${expectedMagic.toString(16).padStart(8, '0')}`,
    );
  }
  if (head.bytes.byteLength < headerLength) throw malformed(path, `IDX header is truncated (${head.bytes.byteLength} of ${headerLength} bytes)`);
  const dims = Array.from({ length: expectedDims }, (_, i) => dv.getUint32(4 + 4 * i, false));
  const [declaredCount, ...itemShape] = dims;
  const itemBytes = itemShape.reduce((a, b) => a * b, 1);
  const count = samplesToRead(declaredCount, limits);
  checkElementBudget(path, count, itemBytes, limits);
  const needed = headerLength + count * itemBytes;
  const readingAll = count === declaredCount;
  // When reading everything, ask for one byte more so trailing bytes are detected.
  const body = await readFilePrefix(path, readingAll ? needed + 1 : needed);
  if (body.bytes.byteLength < needed) {
    throw malformed(
      path,
      `IDX file is truncated: ${count} ${what} of [${itemShape.join('×') || 'scalar'}] need ${needed} bytes but the file has ${body.bytes.byteLength}`,
    );
  }
  if (readingAll && body.bytes.byteLength > needed) {
    throw malformed(path, `IDX file has trailing bytes after the ${declaredCount} ${what} its header declares`);
  }
  return { declaredCount, count, itemShape, data: body.bytes.subarray(headerLength, needed) };
}

export interface IdxImages {
  /** [N, 1, rows, cols], values in [0, 1]. */
  shape: number[];
  data: Float32Array;
  declaredCount: number;
}

/** Reads an idx3-ubyte image file as NCHW float32 scaled to [0, 1]. */
export async function readIdxImages(path: string, limits: ReadLimits = {}): Promise<IdxImages> {
  const idx = await readIdx(path, 3, 'images', limits);
  const data = new Float32Array(idx.data.length);
  for (let i = 0; i < data.length; i++) data[i] = idx.data[i] / 255;
  return { shape: [idx.count, 1, ...idx.itemShape], data, declaredCount: idx.declaredCount };
}

export interface IdxLabels {
  labels: Int32Array;
  declaredCount: number;
}

/** Reads an idx1-ubyte label file. */
export async function readIdxLabels(path: string, limits: ReadLimits = {}): Promise<IdxLabels> {
  const idx = await readIdx(path, 1, 'labels', limits);
  return { labels: Int32Array.from(idx.data), declaredCount: idx.declaredCount };
}
