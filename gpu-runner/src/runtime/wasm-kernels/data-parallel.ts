/**
 * Data-parallel SGD over worker threads, each with its own tfjs wasm backend.
 *
 * tfjs-wasm runs on one thread in Node (the threaded build is browser-only), so a single trainer
 * leaves the other cores idle. Here each of `workers` threads holds a replica of the parameters
 * and computes the gradient of its shard's mean loss; the main thread averages the shard gradients
 * weighted by shard size (= the gradient of the full batch's mean loss) and every replica applies
 * the same SGD update, so the replicas stay identical and the result equals single-thread training
 * up to float summation order.
 *
 * Messages are structured clones of plain Float32Arrays (the shard and the gradients transferred,
 * the averaged update copied to each replica). `stats` records how much of a step's wall time is
 * not the slowest worker's own work: 2–3 ms per tiny-CNN step and 4–5 ms per ResNet-18 step
 * (34 k and 176 k parameters; medians of bench:train rounds at load 5–8), i.e. mostly wake-up
 * latency, which a SharedArrayBuffer exchange with an Atomics barrier would not remove; it would
 * save the copies and the averaging loop, well under a millisecond at these sizes, so it is not
 * used.
 */
import { Worker } from 'node:worker_threads';
import { TRAINING_NETS } from './training-nets.ts';
import type { WorkerInit, WorkerRequest } from './data-parallel-worker.ts';

type Reply =
  | { kind: 'ready' }
  | { kind: 'applied' }
  | { kind: 'grads'; grads: Float32Array[]; loss: number; busyMs: number }
  | { kind: 'snapshot'; params: Float32Array[] };

/**
 * One worker, with at most one request in flight (the trainer always awaits each round). Also
 * used by the engine's data-parallel training (engine/nn/data-parallel-train.ts).
 */
export class Replica<Request = WorkerRequest, Response = Reply> {
  private pending: { resolve: (r: Response) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  /** The worker's first message (it posts one when it is ready). */
  readonly ready: Promise<Response>;

  constructor(readonly worker: Worker) {
    worker.on('message', (r: Response) => {
      const p = this.pending;
      this.pending = null;
      p?.resolve(r);
    });
    worker.on('error', (e) => {
      this.failure = e;
      const p = this.pending;
      this.pending = null;
      p?.reject(e);
    });
    worker.on('exit', (code) => {
      this.failure ??= new Error(`training worker exited with code ${code}`);
      const p = this.pending;
      this.pending = null;
      p?.reject(this.failure);
    });
    this.ready = this.next();
  }

  /** The worker failed or exited: it takes no more requests. */
  get broken(): boolean {
    return this.failure !== null;
  }

  private next(): Promise<Response> {
    return new Promise((resolve, reject) => {
      if (this.failure !== null) reject(this.failure);
      else this.pending = { resolve, reject };
    });
  }

  request(msg: Request, transfer: ArrayBuffer[] = []): Promise<Response> {
    const reply = this.next();
    this.worker.postMessage(msg, transfer);
    return reply;
  }
}

export interface DataParallelOptions {
  /** Name in TRAINING_NETS. */
  net: string;
  initial: Float32Array[];
  learningRate: number;
  workers?: number;
}

/** Where the wall time of the steps so far went (for benchmarks and diagnosis). */
export interface DataParallelStats {
  steps: number;
  /** Total wall time of step() calls. */
  wallMs: number;
  /** Σ over steps of the slowest worker's busy time (applying the previous update + gradients). */
  slowestWorkerMs: number;
}

export class DataParallelTrainer {
  readonly stats: DataParallelStats = { steps: 0, wallMs: 0, slowestWorkerMs: 0 };

  private constructor(
    private readonly replicas: Replica[],
    /** Averaged gradients of the last step, applied by the replicas at the start of the next request. */
    private unapplied: Float32Array[] | null = null,
  ) {}

  static async create(options: DataParallelOptions): Promise<DataParallelTrainer> {
    if (TRAINING_NETS[options.net] === undefined) throw new Error(`unknown training net ${options.net}`);
    const count = options.workers ?? 2;
    const init: WorkerInit = { net: options.net, initial: options.initial, learningRate: options.learningRate };
    const entry = new URL('./data-parallel-bootstrap.js', import.meta.url);
    const replicas = Array.from({ length: count }, () => new Replica(new Worker(entry, { workerData: init })));
    await Promise.all(replicas.map((r) => r.ready));
    return new DataParallelTrainer(replicas);
  }

  /** One SGD step on the batch (x: [n,32,32,3] NHWC, labels: class ids). Returns the batch-mean loss. */
  async step(x: Float32Array, labels: Int32Array): Promise<number> {
    const t0 = performance.now();
    const n = labels.length;
    const per = x.length / n;
    const k = Math.min(this.replicas.length, n);
    const bounds = Array.from({ length: k + 1 }, (_, i) => Math.round((i * n) / k));
    const apply = this.unapplied;
    const replies = await Promise.all(
      this.replicas.slice(0, k).map((r, i) => {
        const xs = x.slice(bounds[i] * per, bounds[i + 1] * per);
        const ls = labels.slice(bounds[i], bounds[i + 1]);
        return r.request({ kind: 'step', apply, x: xs, labels: ls }, [xs.buffer, ls.buffer]);
      }),
    );
    // Replicas beyond k (a batch smaller than the worker count) still have to apply the update.
    if (apply !== null) await Promise.all(this.replicas.slice(k).map((r) => r.request({ kind: 'apply', apply })));
    const avg = (replies[0] as { grads: Float32Array[] }).grads.map((g) => new Float32Array(g.length));
    let loss = 0;
    replies.forEach((reply, i) => {
      const { grads, loss: l } = reply as { grads: Float32Array[]; loss: number };
      const w = (bounds[i + 1] - bounds[i]) / n;
      loss += w * l;
      grads.forEach((g, j) => {
        const a = avg[j];
        for (let e = 0; e < g.length; e++) a[e] += w * g[e];
      });
    });
    this.unapplied = avg;
    this.stats.steps++;
    this.stats.wallMs += performance.now() - t0;
    this.stats.slowestWorkerMs += Math.max(...replies.map((r) => (r as { busyMs: number }).busyMs));
    return loss;
  }

  /** Current parameters (after the last step's update), from the first replica. */
  async parameters(): Promise<Float32Array[]> {
    await this.flush();
    const reply = await this.replicas[0].request({ kind: 'snapshot' });
    return (reply as { params: Float32Array[] }).params;
  }

  private async flush(): Promise<void> {
    const apply = this.unapplied;
    if (apply === null) return;
    this.unapplied = null;
    await Promise.all(this.replicas.map((r) => r.request({ kind: 'apply', apply })));
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.worker.terminate()));
  }
}
