/**
 * Runs a fusion in a worker thread and turns its messages into a promise,
 * progress callbacks and an abort.
 *
 * Threads are kept warm between jobs. Starting one (tsx's loader, the engine
 * and tfjs imported, the backend initialised) takes about a second of CPU,
 * while a small job's fusion takes milliseconds, so a fresh thread per job
 * made small jobs drain at about one a second per runner. A thread that
 * finished its job cleanly therefore waits for the next one; a thread whose
 * job was aborted (a cancel), failed, or that crashed or exited is
 * terminated and a fresh one started in its place. So a canceled job still
 * stops at once, and nothing a failure left behind in a thread can reach the
 * next job.
 *
 * Runners reserve warm threads for their slots (`reserveFusionThreads`, one
 * per job they run at once); the threads are started right away, so a
 * runner's first job does not wait for one either. Without a reservation
 * `runInThread` still works: it starts a thread for the job and ends it after.
 */
import { Worker } from 'node:worker_threads';
import type { FusionTrainingEvent } from '../pipeline/finetune-fusion.ts';
import type { ProgressEvent } from '../pipeline/run-fusion.ts';
import { deserializeFusionError } from './job-errors.ts';
import type { ThreadInput, ThreadMessage, ThreadRequest, ThreadResult } from './thread-protocol.ts';

export class FusionAborted extends Error {
  constructor() {
    super('the fusion was stopped');
    this.name = 'FusionAborted';
  }
}

/**
 * Jobs one thread runs before it is replaced anyway: a bound on whatever a
 * long-lived thread might accumulate. Measured, a thread's memory levels off
 * after about a thousand small jobs (+12 MB RSS), while replacing threads
 * often costs more than that (each new thread's heap and code), so the bound
 * is high.
 */
const JOBS_PER_THREAD = 10_000;

const BOOT = new URL('./thread-boot.mjs', import.meta.url);

interface Run {
  id: number;
  onMessage(m: ThreadMessage): void;
  onFailure(err: Error): void;
}

/** One worker thread; it runs one job at a time. */
class FusionThread {
  readonly worker = new Worker(BOOT);
  jobs = 0;
  alive = true;
  run: Run | null = null;

  constructor(onExit: (thread: FusionThread) => void) {
    this.worker.on('message', (m: ThreadMessage) => {
      if (this.run && m.run === this.run.id) this.run.onMessage(m);
    });
    this.worker.on('error', (err) => this.run?.onFailure(err));
    this.worker.on('exit', (code) => {
      this.alive = false;
      this.run?.onFailure(new Error(`fusion thread exited with code ${code}`));
      onExit(this);
    });
  }

  terminate(): void {
    this.alive = false;
    void this.worker.terminate();
  }
}

/** Idle warm threads, and how many threads runners asked to keep (busy ones included). */
const idle: FusionThread[] = [];
let reserved = 0;
let busy = 0;
let started = 0;

/** What the pool holds now, and how many threads it ever started (for tests and load measurements). */
export function fusionThreadStats(): { idle: number; busy: number; reserved: number; started: number } {
  return { idle: idle.length, busy, reserved, started };
}

function spawn(): FusionThread {
  started++;
  return new FusionThread((thread) => {
    const i = idle.indexOf(thread);
    // A thread that dies while idle is dropped, not replaced: the next job
    // starts one, so a thread that cannot even boot is not restarted in a loop.
    if (i >= 0) idle.splice(i, 1);
  });
}

/** Starts threads until the reservation is met; idle threads never keep the process alive. */
function topUp(): void {
  while (idle.length + busy < reserved) {
    const thread = spawn();
    thread.worker.unref();
    idle.push(thread);
  }
}

function trim(): void {
  while (idle.length > 0 && idle.length + busy > reserved) idle.pop()!.terminate();
}

/**
 * Keeps `slots` more threads warm until the returned function is called
 * (once, when the runner closes). Reservations add up across the runners of a
 * process.
 */
export function reserveFusionThreads(slots: number): () => void {
  reserved += slots;
  topUp();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    reserved -= slots;
    trim();
  };
}

function acquire(): FusionThread {
  let thread = idle.pop();
  while (thread && !thread.alive) thread = idle.pop();
  thread ??= spawn();
  thread.worker.ref();
  busy++;
  return thread;
}

function release(thread: FusionThread, clean: boolean): void {
  busy--;
  thread.run = null;
  if (clean && thread.alive && thread.jobs < JOBS_PER_THREAD && idle.length + busy < reserved) {
    thread.worker.unref();
    idle.push(thread);
  } else {
    thread.terminate();
  }
  topUp();
}

let nextRun = 1;

export function runInThread(
  input: ThreadInput,
  onProgress: (e: ProgressEvent) => void,
  signal: AbortSignal,
  onTraining: (e: FusionTrainingEvent) => void = () => {},
): Promise<ThreadResult> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new FusionAborted());
    const thread = acquire();
    const id = nextRun++;
    let settled = false;
    /** `clean`: the run ended with `done`, so the thread may serve another job. */
    const settle = (clean: boolean, fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      release(thread, clean);
      fn();
    };
    const onAbort = () => settle(false, () => reject(new FusionAborted()));
    signal.addEventListener('abort', onAbort, { once: true });
    thread.run = {
      id,
      onMessage: (m) => {
        if (m.type === 'progress') onProgress(m.event);
        else if (m.type === 'training') onTraining(m.event);
        else if (m.type === 'done') settle(true, () => resolve(m.result));
        else settle(false, () => reject(m.fusionError ? deserializeFusionError(m.fusionError) : new Error(`fusion thread failed: ${m.message}`)));
      },
      onFailure: (err) => settle(false, () => reject(err)),
    };
    thread.jobs++;
    try {
      // Inputs are copied, not transferred: store reads may hand out views of shared (pooled) buffers.
      thread.worker.postMessage({ type: 'run', run: id, input } satisfies ThreadRequest);
    } catch (err) {
      // An input that cannot be copied never reached the thread; still, it is not reused.
      settle(false, () => reject(err));
    }
  });
}
