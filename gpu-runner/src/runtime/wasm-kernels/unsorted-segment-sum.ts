/**
 * UnsortedSegmentSum for the wasm backend (the gradient of gather, hence of embeddings):
 * out[s, ...] = Σ_{i : segmentIds[i] = s} x[i, ...], with segmentIds covering x's leading dims.
 * Ids outside [0, numSegments) contribute nothing, as on the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo } from './wasm-backend.ts';

export function unsortedSegmentSum(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}): TensorInfo {
  const { backend } = args;
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const inner = x.shape.slice(segmentIds.shape.length);
  const innerSize = tf.util.sizeFromShape(inner);
  const outShape = [numSegments, ...inner];
  const dtype = x.dtype === 'int32' ? 'int32' : 'float32';
  const out = backend.makeOutput(outShape, dtype);
  // Views after the allocation (heap growth detaches older views).
  const ids = backend.typedArrayFromHeap(segmentIds) as Int32Array | Float32Array;
  const src = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  dst.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (!(s >= 0 && s < numSegments)) continue;
    const from = i * innerSize;
    const to = s * innerSize;
    for (let j = 0; j < innerSize; j++) dst[to + j] += src[from + j];
  }
  return out;
}
