/**
 * A tap-recording thread (record-taps-pool.ts): runs the forward pass of a
 * model on one contiguous range of the calibration samples and writes each
 * batch's taps straight into the shared output arrays, at the rows of its
 * range. The backend is the one the main thread runs (its name arrives with
 * the first request), so every value is the one a single-threaded recording
 * gives: a sample's taps do not depend on which batch it is in.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { Arch, Params } from '@clafusion/model-format/arch';
import { forwardWith } from '../engine/nn/forward.ts';
import { uploadParams } from '../engine/nn/params.ts';
import { type BackendName, initBackend } from '../runtime/backend.ts';
import type { RecordRuntime } from '../runtime/record-runtime.ts';
import { loadOnnxRuntime, onnxInputDims, recordTapsOnnxBatches } from './record-taps-onnx.ts';

export interface RecordRequest {
  id: number;
  backend: BackendName;
  /** tfjs on `backend`, or a one-thread onnxruntime session (no tfjs backend is started then). */
  runtime: RecordRuntime;
  arch: Arch;
  /** Every parameter, packed in one shared buffer (no copy per thread): name, shape, offset in floats. */
  params: { buffer: SharedArrayBuffer; entries: [name: string, shape: number[], offset: number][] };
  /** This thread's samples, [rows, ...input] flattened. */
  x: Float32Array;
  rows: number;
  /** Index of this thread's first sample in the whole calibration set. */
  firstRow: number;
  activations: 'pre' | 'post';
  batchSize: number;
  /** One shared array per tap, [all samples, width]. */
  out: SharedArrayBuffer[];
}

export type RecordReply = { id: number; ok: true } | { id: number; ok: false; message: string };

const port = parentPort;
if (port === null) throw new Error('record-taps-worker.ts must run in a worker thread');

let backend: Promise<unknown> | null = null;

port.on('message', (req: RecordRequest) => {
  void (async () => {
    try {
      const packed = new Float32Array(req.params.buffer);
      const params: Params = new Map(
        req.params.entries.map(([name, shape, offset]) => [name, { shape, data: packed.subarray(offset, offset + shape.reduce((a, b) => a * b, 1)) }]),
      );
      // The main thread validated the parameters before sending them.
      const model = { arch: req.arch, params };
      if (req.runtime === 'onnxruntime') {
        await recordOnnx(req, model);
        port.postMessage({ id: req.id, ok: true } satisfies RecordReply);
        return;
      }
      backend ??= initBackend({ env: { CLAFUSION_BACKEND: req.backend } });
      await backend;
      const tensors = uploadParams(model);
      const features = req.x.length / req.rows;
      try {
        for (let start = 0; start < req.rows; start += req.batchSize) {
          const rows = Math.min(req.batchSize, req.rows - start);
          const x = { shape: [rows, features], data: req.x.subarray(start * features, (start + rows) * features) };
          const { taps } = forwardWith(req.arch, tensors, x, { taps: true, activations: req.activations, batchSize: rows });
          taps!.forEach((tap, k) => {
            const width = tap.length / rows;
            const out = new Float32Array(req.out[k]);
            // An element loop: V8 copies into a shared buffer with set() element by element with atomics.
            const at = (req.firstRow + start) * width;
            for (let i = 0; i < tap.length; i++) out[at + i] = tap[i];
          });
        }
      } finally {
        tf.dispose(tensors);
      }
      port.postMessage({ id: req.id, ok: true } satisfies RecordReply);
    } catch (err) {
      port.postMessage({ id: req.id, ok: false, message: err instanceof Error ? err.message : String(err) } satisfies RecordReply);
    }
  })();
});

/** This thread's rows on onnxruntime, copied batch by batch into the shared tap arrays. */
async function recordOnnx(req: RecordRequest, model: { arch: Arch; params: Params }): Promise<void> {
  const ort = await loadOnnxRuntime();
  const out = req.out.map((buffer) => new Float32Array(buffer));
  const x = { shape: [req.rows, ...onnxInputDims(model.arch)], data: req.x };
  await recordTapsOnnxBatches(ort, model, x, req.activations, { threads: 1, batchSize: req.batchSize }, (start, rows, taps) => {
    taps.forEach((tap, k) => {
      const width = tap.length / rows;
      const at = (req.firstRow + start) * width;
      // An element loop: V8 copies into a shared buffer with set() element by element with atomics.
      for (let i = 0; i < tap.length; i++) out[k][at + i] = tap[i];
    });
  });
}
