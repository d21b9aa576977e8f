/**
 * Records a model's taps on several threads: each of `size` worker threads
 * (record-taps-worker.ts, one tfjs backend each) runs the forward pass on one
 * contiguous range of the calibration samples and writes into shared arrays,
 * so the main thread gets the whole [t, width] taps without a copy.
 *
 * tfjs-wasm runs one thread in Node, so this is how recording uses more
 * cores. The values are exactly those of a single-threaded recording: a
 * sample's forward pass does not depend on the other samples of its batch
 * (checked bit for bit in record-taps-pool.test.ts), and each thread runs
 * the same backend as the main thread. With the onnxruntime runtime each
 * thread runs a one-thread onnxruntime session instead (record-taps-onnx.ts),
 * which writes the taps into the shared arrays itself.
 */
import { Worker } from 'node:worker_threads';
import { type Model, paramSpecs, validateParams } from '@clafusion/model-format/arch';
import { tapShapes } from '../engine/nn/layers.ts';
import { type Tensor32, numel } from '@clafusion/model-format/tensor';
import type { Tap } from '../engine/fusion/taps.ts';
import type { BackendName } from '../runtime/backend.ts';
import type { RecordRuntime } from '../runtime/record-runtime.ts';
import type { RecordReply, RecordRequest } from './record-taps-worker.ts';

const BOOT = new URL('./record-taps-boot.mjs', import.meta.url);

class RecordThread {
  readonly worker = new Worker(BOOT);
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  constructor() {
    // The threads must not keep a finished process alive if nobody closes the pool.
    this.worker.unref();
    this.worker.on('message', (reply: RecordReply) => {
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.ok) p?.resolve();
      else p?.reject(new Error(`recording thread: ${reply.message}`));
    });
    const fail = (err: Error) => {
      this.failure = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`recording thread exited with code ${code}`)));
  }

  run(req: RecordRequest): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      this.worker.postMessage(req);
    });
  }
}

export class RecordPool {
  private readonly threads: RecordThread[];
  private nextId = 0;

  constructor(
    readonly size: number,
    private readonly backend: BackendName,
  ) {
    this.threads = Array.from({ length: size }, () => new RecordThread());
  }

  /** The taps of `model` on `x` ([t, ...input]), as forward(model, x, { taps: true, activations }) records them. */
  async record(model: Model, x: Tensor32, activations: 'pre' | 'post', batchSize: number, runtime: RecordRuntime = 'tfjs'): Promise<Tap[]> {
    validateParams(model.arch, model.params);
    const t = x.shape[0];
    const features = x.data.length / t;
    const shapes = tapShapes(model.arch);
    const out = shapes.map((shape) => new SharedArrayBuffer(t * numel(shape) * 4));
    // The parameters go to every thread in one shared buffer rather than a structured clone each.
    const specs = paramSpecs(model.arch);
    const total = specs.reduce((sum, spec) => sum + numel(spec.shape), 0);
    const packed = new Float32Array(new SharedArrayBuffer(total * 4));
    const entries: [string, number[], number][] = [];
    let offset = 0;
    for (const spec of specs) {
      const data = model.params.get(spec.name)!.data;
      for (let i = 0; i < data.length; i++) packed[offset + i] = data[i];
      entries.push([spec.name, spec.shape, offset]);
      offset += data.length;
    }
    const params = { buffer: packed.buffer as SharedArrayBuffer, entries };
    const runs = this.threads.map((thread, w) => {
      const first = Math.floor((w * t) / this.size);
      const end = Math.floor(((w + 1) * t) / this.size);
      if (end === first) return Promise.resolve();
      return thread.run({
        id: this.nextId++,
        backend: this.backend,
        runtime,
        arch: model.arch,
        params,
        x: x.data.slice(first * features, end * features),
        rows: end - first,
        firstRow: first,
        activations,
        batchSize,
        out,
      });
    });
    await Promise.all(runs);
    return shapes.map((shape, k) => ({ data: new Float32Array(out[k]), shape }));
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}
