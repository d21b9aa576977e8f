/**
 * The runner: adapts a queued job to a pipeline run. It reads the job's
 * record and event log, downloads the inputs from the store, runs the fusion
 * in a thread while writing progress events (with a finetune section, one
 * `finetune` event per epoch carrying its metrics), uploads fused.safetensors,
 * report.json and report.html, and fused.pt / fused.onnx when the spec's
 * `outputs` asks for them (each verified by reading it back), and
 * records the outcome.
 *
 * Runs are safe to repeat, and even to overlap. A job can reach a runner more
 * than once (a crashed runner's job is handed to another by stall recovery; a
 * retry after an infrastructure error; a job re-enqueued after Redis lost it
 * while a runner still ran it), so: a job already finished is left alone;
 * outputs are written with atomic puts under keys named by their sha256, so
 * a second run never overwrites what the first recorded; and every status
 * change is appended only if the log still allows it, so the job finishes
 * exactly once.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import { lifecycleKeys } from '@clafusion/contract/lifecycle-keys';
import { renderReportHtml } from '../report/html-report.ts';
import type { FusionJob, JobError, JobMetrics, JobOutput, JobStage, StoredFile } from '@clafusion/contract';
import { JobLog, readJson, toJson } from '@clafusion/contract/job-log';
import { isTerminal } from '@clafusion/contract/job-state';
import type { FusionQueueData } from '@clafusion/contract/queue-data';
import { type ObjectStore, type PutResult, type QueuedJob, UnrecoverableJobError } from '@clafusion/contract/ports';
import { layout } from '@clafusion/contract/store-layout';
import type { Arch } from '@clafusion/model-format/arch';
import { isFusionError } from '@clafusion/model-format/errors';
import type { FusionTrainingEvent } from '../pipeline/finetune-fusion.ts';
import type { FusionReport } from '../pipeline/report.ts';
import { internalJobError, jobErrorFromFusionError } from './job-errors.ts';
import { ProgressThrottle } from './progress.ts';
import { FusionAborted, runInThread } from './run-in-thread.ts';
import type { ThreadResult } from './thread-protocol.ts';

export interface FusionRunnerOptions {
  /** How often a running job re-reads its state to notice a cancel request made through another process. */
  cancelPollMs?: number;
  /** Names this runner in `running` events. */
  runnerId?: string;
}

const canContinue = (job: FusionJob) => !isTerminal(job) && !job.cancel_requested;

/**
 * Put + read-back rounds per output before the upload gives up. Each request
 * inside is already retried by the store (the S3 SDK: 5 attempts), so this
 * covers what those retries cannot see: an object that was stored but does
 * not read back as the bytes this runner produced.
 */
const OUTPUT_ATTEMPTS = 2;

/** An output could not be stored intact; the job attempt fails in its `upload` stage (retried, then failed). */
export class OutputUploadError extends Error {
  override readonly name = 'OutputUploadError';
}

export class FusionRunner {
  private readonly cancelPollMs: number;
  readonly runnerId: string;

  constructor(
    private readonly store: ObjectStore,
    options: FusionRunnerOptions = {},
  ) {
    this.cancelPollMs = options.cancelPollMs ?? 1000;
    this.runnerId = options.runnerId ?? `${hostname()}:${process.pid}`;
  }

  /** The queue handler. */
  readonly handle = async (job: QueuedJob<FusionQueueData>): Promise<void> => {
    const { tenant, job_id: jobId } = job.data;
    const log = new JobLog(this.store, tenant, jobId);
    const state = await log.state();
    if (!state) throw new UnrecoverableJobError(`fusion ${jobId} has no record in the store`);
    if (isTerminal(state.job)) return this.clearActive(jobId);

    const started = await log.append(
      { type: 'running', message: `attempt ${job.attempt} on ${this.runnerId}`, data: { attempt: job.attempt, runner: this.runnerId } },
      canContinue,
    );
    if (!started.event) return this.finishCanceledOrDone(log, jobId, started.state.job);

    const abort = new AbortController();
    const stopOnCancel = () => abort.abort();
    job.signal.addEventListener('abort', stopOnCancel, { once: true });
    const watcher = setInterval(() => {
      log.state().then(
        // A cancel request, or another runner already finished the job (a
        // second delivery, e.g. re-enqueued after Redis lost it): stop.
        (s) => s && (s.job.cancel_requested || isTerminal(s.job)) && abort.abort(),
        () => {},
      );
    }, this.cancelPollMs);
    const spec = started.state.job.spec;
    const run = new RunProgress(log, job, spec.finetune !== undefined || spec.distill !== undefined);
    const written: WrittenOutput[] = [];
    try {
      const result = await this.execute(tenant, started.state.job, run, abort.signal);
      run.stage = 'upload';
      const outputs = await this.upload(tenant, jobId, result, written);
      await run.flush();
      // Listed before the success is recorded: a client that saw the job
      // succeed and asks GET /v1/version then finds the runner that ran it.
      await reportRunner(this.store, this.runnerId, result.report);
      const succeeded = await log.append(
        { type: 'succeeded', message: 'succeeded', progress: 1, data: { outputs, metrics: metricsOf(result.report) } },
        (j) => !isTerminal(j),
      );
      if (!succeeded.event) await this.discardUnrecorded(log, written);
      await this.clearActive(jobId);
    } catch (err) {
      await run.flush();
      if (err instanceof FusionAborted || job.signal.aborted) {
        await log.append({ type: 'canceled', message: 'canceled while running', stage: run.stage }, (j) => !isTerminal(j));
        await this.discardUnrecorded(log, written);
        return this.clearActive(jobId);
      }
      if (isFusionError(err) || err instanceof InputChanged) {
        const error = err instanceof InputChanged ? err.jobError(run.stage) : jobErrorFromFusionError(err, run.stage);
        await log.append({ type: 'failed', message: error.message, stage: run.stage, data: { error } }, (j) => !isTerminal(j));
        await this.clearActive(jobId);
        throw new UnrecoverableJobError(error.message);
      }
      if (job.attempt >= (job.maxAttempts ?? 1)) {
        const error = internalJobError(run.stage, job.attempt);
        await log.append({ type: 'failed', message: error.message, stage: run.stage, data: { error } }, (j) => !isTerminal(j));
        await this.discardUnrecorded(log, written);
        await this.clearActive(jobId);
      }
      throw err;
    } finally {
      clearInterval(watcher);
      job.signal.removeEventListener('abort', stopOnCancel);
    }
  };

  private async execute(tenant: string, job: FusionJob, run: RunProgress, signal: AbortSignal): Promise<ThreadResult> {
    run.stage = 'download';
    run.report('download', 0, 'downloading inputs');
    const models = await Promise.all(
      job.inputs.models.map(async (m) => {
        const { bytes, record } = await this.readInput(tenant, m);
        return { bytes, label: m.name, arch: record.arch_override as Arch | null };
      }),
    );
    const dataset = async (ref: { file: string; name: string }) => ({ bytes: (await this.readInput(tenant, ref)).bytes, label: ref.name });
    const calibration = await dataset(job.inputs.calibration);
    const evaluation = job.inputs.evaluation ? await dataset(job.inputs.evaluation) : null;
    const train = (job.spec.finetune || job.spec.distill) && job.inputs.train ? await dataset(job.inputs.train) : null;
    run.report('download', 1, 'inputs downloaded');
    if (signal.aborted) throw new FusionAborted();
    return runInThread(
      { models, calibration, evaluation, train, samples: job.spec.calibration.samples ?? null, spec: job.spec },
      (e) => run.report(e.stage, e.fraction, e.message),
      signal,
      (e) => run.training(e),
    );
  }

  /**
   * An input's bytes, checked against the sha256 its file record was
   * completed with. The check is what makes a `ready` file immutable on S3:
   * a presigned upload URL stays valid for its whole lifetime, so a client
   * can still PUT new bytes after `complete`; without the check the job would
   * fuse bytes that nobody validated, and the report would name the old hash.
   */
  private async readInput(tenant: string, ref: { file: string; name: string }): Promise<{ bytes: Uint8Array; record: StoredFile }> {
    const record = await readJson<StoredFile>(this.store, layout.fileRecord(tenant, ref.file));
    if (!record || record.status !== 'ready' || record.sha256 === null) {
      throw new InputChanged(`${ref.name} (${ref.file}) is no longer a completed file`, { file: ref.file });
    }
    const bytes = await this.store.getBytes(layout.fileContent(tenant, ref.file));
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== record.sha256) {
      throw new InputChanged(
        `${ref.name} (${ref.file}) changed after it was completed: its content's sha256 is ${actual}, the file was completed with ${record.sha256}; upload it again as a new file`,
        { file: ref.file, expected_sha256: record.sha256, actual_sha256: actual },
      );
    }
    return { bytes, record };
  }

  private async upload(tenant: string, jobId: string, result: ThreadResult, written: WrittenOutput[]): Promise<JobOutput[]> {
    const key = (name: JobOutput['name'], sha256: string) => {
      const k = layout.jobOutput(tenant, jobId, name, sha256);
      // Noted before the put: a put that seemed to fail may still have landed.
      written.push({ name, sha256, key: k });
      return k;
    };
    const fused = await this.putVerified((sha) => key('fused.safetensors', sha), result.fused, 'application/octet-stream');
    const report = await this.putVerified((sha) => key('report.json', sha), toJson(result.report), 'application/json');
    // The HTML page is rendered here, once, next to the JSON it shows; the API
    // serves it as stored and never needs the engine's code.
    const html = await this.putVerified(
      (sha) => key('report.html', sha),
      new TextEncoder().encode(renderReportHtml(result.report)),
      'text/html; charset=utf-8',
    );
    const outputs: JobOutput[] = [
      { name: 'fused.safetensors', size: fused.size, sha256: fused.sha256, content_type: 'application/octet-stream' },
      { name: 'report.json', size: report.size, sha256: report.sha256, content_type: 'application/json' },
      { name: 'report.html', size: html.size, sha256: html.sha256, content_type: 'text/html; charset=utf-8' },
    ];
    // The formats the spec's `outputs` adds (fused.pt, fused.onnx).
    for (const e of result.exports) {
      const put = await this.putVerified((sha) => key(e.name, sha), e.bytes, 'application/octet-stream');
      outputs.push({ name: e.name, size: put.size, sha256: put.sha256, content_type: 'application/octet-stream' });
    }
    return outputs;
  }

  /**
   * Puts one output and proves it landed: the sha256 is computed here over
   * the bytes this runner produced (never taken from the store's echo), the
   * store's PutResult must agree, and the object, read back in full, must
   * hash to it too (a streamed read, so a large model is never held twice).
   * Only then does the output go into the `succeeded` event; otherwise the
   * upload throws and the job never claims an output it does not have.
   */
  private async putVerified(keyFor: (sha256: string) => string, bytes: Uint8Array, contentType: string): Promise<PutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const key = keyFor(sha256);
    let problem = '';
    for (let attempt = 1; attempt <= OUTPUT_ATTEMPTS; attempt++) {
      try {
        const put = await this.store.put(key, bytes, { contentType });
        if (put.size !== bytes.byteLength || put.sha256 !== sha256) {
          problem = `the store recorded ${put.size} bytes with sha256 ${put.sha256}, expected ${bytes.byteLength} bytes with sha256 ${sha256}`;
          continue;
        }
        const stored = await hashStream(await this.store.get(key));
        if (stored.size === bytes.byteLength && stored.sha256 === sha256) return { key, size: bytes.byteLength, sha256 };
        problem = `it reads back as ${stored.size} bytes with sha256 ${stored.sha256}, expected ${bytes.byteLength} bytes with sha256 ${sha256}`;
      } catch (err) {
        problem = (err as Error).message;
      }
    }
    throw new OutputUploadError(`upload of output ${key} failed after ${OUTPUT_ATTEMPTS} attempts: ${problem}`);
  }

  /**
   * Deletes this run's outputs that the job's record does not name, once the
   * job is finished (a losing run, or a failed or canceled one), so orphans do
   * not pile up. Only then: while the job runs, another run may be about to
   * record the very same key (a deterministic model hashes the same), and
   * after its end nothing can record anything. Best effort: a leftover costs
   * storage, never correctness, because the API only serves recorded keys.
   */
  private async discardUnrecorded(log: JobLog, written: WrittenOutput[]): Promise<void> {
    if (written.length === 0) return;
    try {
      const state = await log.state();
      if (!state || !isTerminal(state.job)) return;
      const recorded = new Set(state.job.status === 'succeeded' ? state.job.outputs.map((o) => `${o.name}/${o.sha256}`) : []);
      for (const w of written) {
        if (!recorded.has(`${w.name}/${w.sha256}`)) await this.store.delete(w.key);
      }
    } catch {
      // Best effort (see above).
    }
  }

  /** The job could not start: cancel it if that was asked, else it is already finished. */
  private async finishCanceledOrDone(log: JobLog, jobId: string, job: FusionJob): Promise<void> {
    if (!isTerminal(job) && job.cancel_requested) {
      await log.append({ type: 'canceled', message: 'canceled before it started' }, (j) => !isTerminal(j));
    }
    await this.clearActive(jobId);
  }

  private async clearActive(jobId: string): Promise<void> {
    await this.store.delete(layout.activeJob(jobId));
  }
}

interface WrittenOutput {
  name: JobOutput['name'];
  sha256: string;
  key: string;
}

/** An input file no longer holds the bytes it was completed with: the job fails at once (a retry reads the same bytes). */
class InputChanged extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'InputChanged';
  }

  jobError(stage: JobStage | null): JobError {
    return { code: 'invalid_input', message: this.message, stage, details: this.details };
  }
}

/** Turns pipeline progress into throttled progress events (written in order) and queue heartbeats. */
class RunProgress {
  stage: JobStage | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  private readonly throttle: ProgressThrottle;

  constructor(
    private readonly log: JobLog,
    private readonly job: QueuedJob<FusionQueueData>,
    finetune: boolean,
  ) {
    this.throttle = new ProgressThrottle(undefined, undefined, undefined, finetune);
  }

  /**
   * A finetuning event. Batches only move the progress (throttled); every
   * epoch becomes an event of its own with the epoch's metrics, the job's
   * training curve. The fraction is the fused model's (with models 'all' the
   * others train after it and their epochs hold the progress where it is).
   */
  training(e: FusionTrainingEvent): void {
    const fraction = e.model === 'fused' ? (e.type === 'batch' ? e.fraction : e.metrics.epoch / e.epochs) : 1;
    if (e.type === 'batch') {
      this.report('finetune', fraction, `${e.kind} ${e.model}: epoch ${e.epoch}/${e.epochs}, batch ${e.batch}/${e.batches}, loss ${e.loss.toFixed(4)}`);
      return;
    }
    const m = e.metrics;
    const evalPart = m.evalAccuracy === undefined ? '' : `, eval acc ${(m.evalAccuracy * 100).toFixed(2)}%`;
    this.report('finetune', fraction, `${e.kind} ${e.model}: epoch ${m.epoch}/${e.epochs}, loss ${m.loss.toFixed(4)}${evalPart}`, {
      always: true,
      data: {
        kind: e.kind,
        model: e.model,
        epoch: m.epoch,
        epochs: e.epochs,
        loss: m.loss,
        train_accuracy: m.trainAccuracy,
        eval_accuracy: m.evalAccuracy ?? null,
        lr: m.lr,
      },
    });
  }

  report(stage: JobStage, fraction: number, message: string, extra: { always?: boolean; data?: Record<string, unknown> } = {}): void {
    this.stage = stage;
    const progress = this.throttle.next(stage, fraction, extra.always);
    if (progress === null) return;
    const data = extra.data;
    this.chain = this.chain
      .then(() => this.log.append({ type: 'progress', stage, progress, message, ...(data ? { data } : {}) }, canContinue))
      .then(() => this.job.progress(progress))
      .catch(() => {
        // A lost progress event is harmless; the outcome is what must be recorded.
      });
  }

  flush(): Promise<unknown> {
    return this.chain;
  }
}

function metricsOf(report: FusionReport): JobMetrics {
  const acc = report.accuracy;
  const training = report.training;
  return {
    accuracy: acc ? { models: acc.models, fused: acc.fused, ...(acc.repaired !== undefined ? { repaired: acc.repaired } : {}), ensemble: acc.ensemble, samples: acc.samples } : null,
    ...(training?.kind === 'finetune'
      ? {
          finetuned_accuracy: acc?.finetuned?.fused ?? null,
          finetune: { epochs: training.history.length, best_epoch: training.bestEpoch ?? null },
        }
      : {}),
    ...(training?.kind === 'distill'
      ? {
          distilled_accuracy: acc?.finetuned?.fused ?? null,
          distill: { epochs: training.history.length, best_epoch: training.bestEpoch ?? null },
        }
      : {}),
    fused_arch: report.fused.arch as unknown as JobMetrics['fused_arch'],
    parameters: report.fused.parameters,
    timings: report.timings as unknown as Record<string, number>,
    backend: report.backend,
  };
}


/**
 * What GET /v1/version lists: this runner, its backend and engine version, as
 * of this job (written once its outputs are stored, before its success is).
 * Best effort: a failed write only leaves the listing stale.
 */
async function reportRunner(store: ObjectStore, runnerId: string, report: FusionReport): Promise<void> {
  const seen = { runner: runnerId, backend: report.backend, engine_version: report.engine?.version ?? 'unknown', seen_at: new Date().toISOString() };
  await store.put(lifecycleKeys.runner(runnerId), toJson(seen), { contentType: 'application/json' }).catch(() => {});
}

async function hashStream(stream: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    hash.update(chunk);
  }
  return { size, sha256: hash.digest('hex') };
}
