/**
 * Fusion jobs from the API's side: create (idempotently), read, list, cancel,
 * page through events and hand out outputs. Runners do the rest through the
 * same event log (gpu-runner/src/worker).
 */
import { createHash } from 'node:crypto';
import {
  type DownloadLink,
  type FileObject,
  type FusionJob,
  type FusionRequest,
  type FusionSpec,
  type JobEvent,
  type JobStatus,
  LIMITS,
  type ListPage,
  type OutputName,
} from '@clafusion/contract';
import { ApiError, notFound } from '../errors.ts';
import type { FileService } from '../files/file-service.ts';
import { newId } from '../ids.ts';
import type { LineageService } from '../lineages/lineage-service.ts';
import { resolveRequest } from '../lineages/resolve-request.ts';
import { API_TRAINING_LABELS, anchorProblem, apiFieldOf, givenTrainingFromSpec, trainingOptionProblem, weightsProblem } from '@clafusion/contract/options';
import { type JobQueue, type ObjectStore, ObjectStoreError, QueueUnavailableError } from '@clafusion/contract/ports';
import { layout } from '@clafusion/contract/store-layout';
import { canonicalJson } from './canonical-json.ts';
import { checkCompatible } from './compatibility.ts';
import { JobLog, readJson, toJson } from '@clafusion/contract/job-log';
import { type JobRecord, isTerminal } from '@clafusion/contract/job-state';
import { type FusionQueueData, JOB_ATTEMPTS } from '@clafusion/contract/queue-data';
import { assertFilesLive, inputFileIds } from '../lifecycle/file-guard.ts';
import type { WebhookService } from '../webhooks/webhook-service.ts';
import { checkDataFits } from './data-fit.ts';

interface IdempotencyRecord {
  job_id: string;
  body_sha256: string;
  created_at: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export class JobService {
  constructor(
    private readonly store: ObjectStore,
    private readonly queue: JobQueue<FusionQueueData>,
    private readonly files: FileService,
    private readonly lineages: LineageService,
    /** Absent in tests that make a JobService alone; then no job is watched for webhooks. */
    private readonly webhooks?: WebhookService,
  ) {}

  log(tenant: string, id: string): JobLog {
    return new JobLog(this.store, tenant, id);
  }

  /**
   * Creates a job, or with an Idempotency-Key returns the job that key made
   * before (Stripe's rules: same key and body → same job; same key, other
   * body → 409). Every step is create-only or repeatable, so a retry after a
   * crash half-way finishes the same job instead of making a second one.
   * Lineage references are resolved here, once: the job keeps the file ids
   * (and which versions they were), so it never changes under a new version.
   */
  async create(tenant: string, request: FusionRequest, idempotencyKey: string | null): Promise<FusionJob> {
    const bodyHash = sha256(canonicalJson(request));
    let jobId: string | null = null;
    let idempotencyKeyPath: string | null = null;
    if (idempotencyKey !== null) {
      idempotencyKeyPath = layout.idempotency(tenant, sha256(idempotencyKey));
      jobId = await this.replayedJobId(idempotencyKeyPath, bodyHash);
      if (jobId !== null) {
        const existing = await this.log(tenant, jobId).state();
        if (existing) return existing.job;
      }
    }
    const resolved = await resolveRequest(this.lineages, tenant, request);
    const spec = resolved.spec;
    if (spec.webhook) this.webhooks?.checkUrl(spec.webhook.url, 'webhook.url');
    const inputs = await this.resolveInputs(tenant, spec);
    inputs.models.forEach((m, i) => {
      const lineage = resolved.models[i].lineage;
      if (lineage) m.lineage = lineage;
    });
    const now = new Date();
    if (jobId === null) {
      jobId = newId('fus', now);
      if (idempotencyKeyPath !== null) {
        const record: IdempotencyRecord = { job_id: jobId, body_sha256: bodyHash, created_at: now.toISOString() };
        try {
          await this.store.put(idempotencyKeyPath, toJson(record), { ifAbsent: true, contentType: 'application/json' });
        } catch (err) {
          if (!(err instanceof ObjectStoreError && err.code === 'exists')) throw err;
          // A concurrent request with the same key won the race: follow it.
          return this.create(tenant, request, idempotencyKey);
        }
      }
    }
    const record: JobRecord = { id: jobId, tenant, created_at: now.toISOString(), spec, inputs };
    await this.putIfAbsent(layout.jobRecord(tenant, jobId), record);
    const log = this.log(tenant, jobId);
    // On a retry the queued event may exist already (the append then does
    // nothing); either way the append hands back the job's state as it read it.
    const { state } = await log.append({ type: 'queued', message: 'queued' }, (_job, seq) => seq === 0);
    await this.putIfAbsent(layout.jobIndexEntry(tenant, jobId), {});
    await this.putIfAbsent(layout.activeJob(jobId), { tenant });
    await this.refuseIfInputsDeleted(log, jobId, inputs);
    await this.webhooks?.watchIfWanted(tenant, state.job);
    await this.tolerateQueueOutage(`enqueue ${jobId}`, () => this.queue.enqueue(jobId, { tenant, job_id: jobId }, { attempts: JOB_ATTEMPTS }));
    return state.job;
  }

  /**
   * A file deleted while this job was being made: the job (now visible to a
   * deletion as an unfinished user) fails instead of running on missing bytes.
   */
  private async refuseIfInputsDeleted(log: JobLog, jobId: string, inputs: JobRecord['inputs']): Promise<void> {
    try {
      await assertFilesLive(this.store, log.tenant, inputFileIds(inputs));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const error = { code: 'invalid_input', message: err.message, stage: null, details: err.details };
      await log.append({ type: 'failed', message: err.message, data: { error } }, (job) => !isTerminal(job));
      await this.store.delete(layout.activeJob(jobId));
      throw err;
    }
  }

  /**
   * The store, not the queue, decides what happens to a job: once its record
   * and active-jobs entry are written, reconciliation enqueues it when Redis
   * is back (jobs/recover.ts), and a runner learns of a cancel from the log.
   * So an unreachable queue delays the job instead of failing the request.
   */
  private async tolerateQueueOutage(what: string, operation: () => Promise<void>): Promise<void> {
    try {
      await operation();
    } catch (err) {
      if (!(err instanceof QueueUnavailableError)) throw err;
      console.warn(`[jobs] could not ${what} now, reconciliation will: ${err.message}`);
    }
  }

  private async replayedJobId(key: string, bodyHash: string): Promise<string | null> {
    const previous = await readJson<IdempotencyRecord>(this.store, key);
    if (!previous) return null;
    if (previous.body_sha256 !== bodyHash) {
      throw new ApiError('idempotency_key_reused', 'This Idempotency-Key was used with a different request body; use a new key for a new job', {});
    }
    return previous.job_id;
  }

  private async putIfAbsent(key: string, value: unknown): Promise<void> {
    try {
      await this.store.put(key, toJson(value), { ifAbsent: true, contentType: 'application/json' });
    } catch (err) {
      if (!(err instanceof ObjectStoreError && err.code === 'exists')) throw err;
    }
  }

  /** Checks limits and that every referenced file is the caller's, completed and of the right kind. */
  private async resolveInputs(tenant: string, spec: FusionSpec): Promise<JobRecord['inputs']> {
    if (spec.models.length > LIMITS.maxModelsPerJob) {
      throw new ApiError('limit_exceeded', `A job fuses at most ${LIMITS.maxModelsPerJob} models; got ${spec.models.length}`, {
        field: 'models',
        limit: LIMITS.maxModelsPerJob,
      });
    }
    const samples = spec.calibration.samples;
    if (samples !== undefined && samples > LIMITS.maxCalibrationSamples) {
      throw new ApiError('limit_exceeded', `calibration.samples is at most ${LIMITS.maxCalibrationSamples}; got ${samples}`, {
        field: 'calibration.samples',
        limit: LIMITS.maxCalibrationSamples,
      });
    }
    const weights = weightsProblem(spec.fusion?.weights, spec.models.length);
    if (weights) throw new ApiError('invalid_request', weights.say('fusion.weights'), { field: 'fusion.weights' });
    const epochs = spec.finetune?.epochs;
    if (epochs !== undefined && epochs > LIMITS.maxFinetuneEpochs) {
      throw new ApiError('limit_exceeded', `finetune.epochs is at most ${LIMITS.maxFinetuneEpochs}; got ${epochs}`, {
        field: 'finetune.epochs',
        limit: LIMITS.maxFinetuneEpochs,
      });
    }
    // The training options' rules across fields (finetune xor distill), as the CLI checks them, worded with field paths.
    const trainingProblem = trainingOptionProblem(givenTrainingFromSpec(spec));
    if (trainingProblem) throw new ApiError('invalid_request', trainingProblem.say(API_TRAINING_LABELS), { field: apiFieldOf(trainingProblem) });
    const distillEpochs = spec.distill?.epochs;
    if (distillEpochs !== undefined && distillEpochs > LIMITS.maxDistillEpochs) {
      throw new ApiError('limit_exceeded', `distill.epochs is at most ${LIMITS.maxDistillEpochs}; got ${distillEpochs}`, {
        field: 'distill.epochs',
        limit: LIMITS.maxDistillEpochs,
      });
    }
    const anchor = anchorProblem(spec.fusion?.anchor, spec.models.length);
    if (anchor) throw new ApiError('invalid_request', anchor.say('fusion.anchor'), { field: 'fusion.anchor' });
    // Every file record is read at once; they are checked in the order below,
    // so a request with several problems always reports the same one first.
    const training = spec.finetune ? { section: 'finetune', file: spec.finetune.train.file } : spec.distill ? { section: 'distill', file: spec.distill.train.file } : null;
    const reads = {
      models: Promise.all(spec.models.map((id, i) => this.readyFile(tenant, id, 'model', `models.${i}`))),
      calibration: this.readyFile(tenant, spec.calibration.file, 'dataset', 'calibration.file'),
      evaluation: spec.evaluation ? this.readyFile(tenant, spec.evaluation.file, 'dataset', 'evaluation.file') : null,
      train: training ? this.readyFile(tenant, training.file, 'dataset', `${training.section}.train.file`) : null,
    };
    // A read not awaited because an earlier check threw must not become an unhandled rejection.
    for (const read of Object.values(reads)) read?.catch(() => {});
    const models = await reads.models;
    checkCompatible(models.map((m) => ({ arch: m.model!.arch, label: m.name })));
    const calibration = await reads.calibration;
    if (samples !== undefined && samples > calibration.dataset!.samples) {
      throw new ApiError(
        'invalid_request',
        `calibration.samples ${samples} asks for more calibration rows than the ${calibration.dataset!.samples} in ${calibration.name}`,
        { field: 'calibration.samples' },
      );
    }
    const evaluation = await reads.evaluation;
    if (evaluation && !evaluation.dataset!.labels) {
      throw new ApiError('invalid_request', `evaluation file ${evaluation.name} has no labels (tensor y)`, { field: 'evaluation.file' });
    }
    // Training needs labels; whether x fits the models is the engine's check, as for the other datasets.
    const train = await reads.train;
    if (training && train && !train.dataset!.labels) {
      throw new ApiError('invalid_request', `${training.section}.train file ${train.name} has no labels (tensor y)`, { field: `${training.section}.train.file` });
    }
    checkDataFits(models[0].model!.arch, [
      { field: 'calibration.file', file: calibration },
      ...(evaluation ? [{ field: 'evaluation.file', file: evaluation }] : []),
      ...(training && train ? [{ field: `${training.section}.train.file`, file: train }] : []),
    ]);
    const ref = (f: FileObject) => ({ file: f.id, name: f.name, sha256: f.sha256 });
    return {
      models: models.map(ref),
      calibration: ref(calibration),
      evaluation: evaluation ? ref(evaluation) : null,
      ...(train ? { train: ref(train) } : {}),
    };
  }

  private async readyFile(tenant: string, id: string, purpose: 'model' | 'dataset', field: string): Promise<FileObject> {
    let file: FileObject;
    try {
      file = await this.files.get(tenant, id);
    } catch (err) {
      if (err instanceof ApiError && err.apiCode === 'not_found') throw new ApiError('not_found', `No such file: ${id}`, { id, field });
      throw err;
    }
    if (file.purpose !== purpose) {
      throw new ApiError('invalid_request', `${field}: file ${id} (${file.name}) is a ${file.purpose} file, a ${purpose} file is needed`, { id, field });
    }
    if (file.status !== 'ready') {
      throw new ApiError('file_not_ready', `${field}: file ${id} (${file.name}) is not completed; complete its upload first`, { id, field });
    }
    return file;
  }

  async get(tenant: string, id: string): Promise<FusionJob> {
    const state = await this.log(tenant, id).state();
    if (!state) throw notFound('fusion', id);
    return state.job;
  }

  /** Newest first (ids count down in time); with `status`, only the jobs in that status. */
  async list(tenant: string, after: string | undefined, limit: number, status?: JobStatus): Promise<ListPage<FusionJob>> {
    if (status === undefined) {
      const page = await this.store.list(layout.jobIndex(tenant), {
        after: after ? layout.jobIndexEntry(tenant, after) : undefined,
        limit: limit + 1,
      });
      const ids = page.objects.map((o) => o.key.slice(o.key.lastIndexOf('/') + 1));
      const hasMore = ids.length > limit;
      const jobs = await Promise.all(ids.slice(0, limit).map((id) => this.get(tenant, id)));
      return { object: 'list', data: jobs, has_more: hasMore, next_after: hasMore ? jobs[jobs.length - 1].id : null };
    }
    // Filtered: read the index page by page until a page and one more match (or the end).
    const matched: FusionJob[] = [];
    let cursor = after ? layout.jobIndexEntry(tenant, after) : undefined;
    while (matched.length <= limit) {
      const page = await this.store.list(layout.jobIndex(tenant), { after: cursor, limit: 200 });
      const ids = page.objects.map((o) => o.key.slice(o.key.lastIndexOf('/') + 1));
      const states = await Promise.all(ids.map((id) => this.log(tenant, id).state()));
      for (const state of states) {
        if (state?.job.status === status) matched.push(state.job);
        if (matched.length > limit) break;
      }
      if (!page.next) break;
      cursor = page.next;
    }
    const hasMore = matched.length > limit;
    const data = matched.slice(0, limit);
    return { object: 'list', data, has_more: hasMore, next_after: hasMore ? data[data.length - 1].id : null };
  }

  /**
   * A queued job is canceled at once; a running one gets a cancel request
   * that its runner acts on at its next step. Canceling a canceled job
   * returns it; a finished one is a conflict.
   */
  async cancel(tenant: string, id: string): Promise<FusionJob> {
    const log = this.log(tenant, id);
    const current = await log.state();
    if (!current) throw notFound('fusion', id);
    if (current.job.status === 'canceled') return current.job;
    if (isTerminal(current.job)) {
      throw new ApiError('job_not_cancelable', `Fusion ${id} already ${current.job.status}`, { id, status: current.job.status });
    }
    const direct = await log.append({ type: 'canceled', message: 'canceled before it started' }, (job) => job.status === 'queued');
    if (direct.event) {
      await this.tolerateQueueOutage(`cancel ${id} on the queue`, () => this.queue.cancel(id));
      await this.store.delete(layout.activeJob(id));
      return direct.state.job;
    }
    const requested = await log.append({ type: 'cancel_requested', message: 'cancel requested' }, (job) => !isTerminal(job) && !job.cancel_requested);
    await this.tolerateQueueOutage(`cancel ${id} on the queue`, () => this.queue.cancel(id));
    const job = requested.state.job;
    if (isTerminal(job) && job.status !== 'canceled') {
      throw new ApiError('job_not_cancelable', `Fusion ${id} already ${job.status}`, { id, status: job.status });
    }
    return job;
  }

  async events(tenant: string, id: string, after: number, limit: number): Promise<ListPage<JobEvent>> {
    const log = this.log(tenant, id);
    if (!(await log.record())) throw notFound('fusion', id);
    const events = await log.events(after, limit + 1);
    const hasMore = events.length > limit;
    const data = events.slice(0, limit);
    return { object: 'list', data, has_more: hasMore, next_after: hasMore ? data[data.length - 1].id : null };
  }

  async outputLink(tenant: string, id: string, name: OutputName, apiBaseUrl: string): Promise<DownloadLink> {
    const key = await this.succeededWith(tenant, id, name);
    return this.files.linkFor(key, `${apiBaseUrl}/v1/fusions/${id}/outputs/${name}/content`, name);
  }

  /** Checks that the job succeeded and has the output; returns the store key of the bytes its record names. */
  async succeededWith(tenant: string, id: string, name: OutputName): Promise<string> {
    const job = await this.get(tenant, id);
    const output = job.status === 'succeeded' ? job.outputs.find((o) => o.name === name) : undefined;
    if (!output && job.status === 'succeeded') {
      // A model format the spec's `outputs` did not ask for: it will never exist.
      throw new ApiError('not_found', `Fusion ${id} has no ${name}: its spec's outputs did not ask for it`, { id, name, field: 'outputs' });
    }
    if (!output) {
      throw new ApiError('output_not_ready', `Fusion ${id} has no ${name} yet (status ${job.status})`, { id, status: job.status });
    }
    const key = layout.jobOutput(tenant, id, name, output.sha256);
    // Jobs that finished before outputs were addressed by content have them under the bare name.
    if ((await this.store.head(key)) === null) {
      const legacy = layout.legacyJobOutput(tenant, id, name);
      if ((await this.store.head(legacy))?.sha256 === output.sha256) return legacy;
    }
    return key;
  }
}
