/**
 * Schedules from the API's side: create, read, list, change, pause, resume,
 * delete, and list runs. The schedule record in the store is the source of
 * truth; the queue's scheduler only says when to tick (pause removes it from
 * the scheduler, resume puts it back), and every tick re-reads the record,
 * so a tick that was already on its way when a schedule was paused, changed
 * or deleted does what the record says now.
 */
import {
  type CreateScheduleInput,
  type FusionRequest,
  LIMITS,
  type ListPage,
  type Schedule,
  type ScheduleRun,
  type UpdateScheduleInput,
} from '@clafusion/contract';
import { ApiError, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { readJson, toJson } from '@clafusion/contract/job-log';
import { type LineageService, putIfAbsent } from '../lineages/lineage-service.ts';
import { resolveRequest } from '../lineages/resolve-request.ts';
import {
  API_TRAINING_LABELS,
  type TrainingLabels,
  anchorProblem,
  apiFieldOf,
  givenTrainingFromSpec,
  trainingOptionProblem,
  weightsProblem,
} from '@clafusion/contract/options';
import { type ObjectStore, QueueUnavailableError } from '@clafusion/contract/ports';
import { layout } from '@clafusion/contract/store-layout';
import { type RunStore, toListPage } from './runs.ts';
import type { TickQueue } from './tick-queue.ts';
import { checkTrigger, repeatOf } from './trigger.ts';

/** The training options' names as a schedule's template has them (`template.distill.alpha`). */
const TEMPLATE_TRAINING_LABELS: TrainingLabels = {
  name: (field, section) => `template.${API_TRAINING_LABELS.name(field, section)}`,
  withValue: (field, section) => `template.${API_TRAINING_LABELS.withValue(field, section)}`,
};

export class ScheduleService {
  constructor(
    private readonly store: ObjectStore,
    private readonly ticks: TickQueue,
    private readonly lineages: LineageService,
    readonly runs: RunStore,
  ) {}

  async create(tenant: string, input: CreateScheduleInput): Promise<Schedule> {
    const trigger = checkTrigger(input);
    await this.checkTemplate(tenant, input.template);
    const now = new Date().toISOString();
    const schedule: Schedule = {
      id: newId('sch'),
      object: 'schedule',
      name: input.name ?? null,
      status: 'active',
      ...trigger,
      template: input.template,
      output: input.output,
      skip_unchanged: input.skip_unchanged ?? false,
      created_at: now,
      updated_at: now,
    };
    await this.store.put(layout.scheduleRecord(tenant, schedule.id), toJson(schedule), { ifAbsent: true, contentType: 'application/json' });
    await putIfAbsent(this.store, layout.scheduleIndexEntry(tenant, schedule.id), {});
    await putIfAbsent(this.store, layout.scheduleIndexSystem(schedule.id), { tenant });
    await this.arm(tenant, schedule);
    return schedule;
  }

  async get(tenant: string, id: string): Promise<Schedule> {
    const schedule = await readJson<Schedule>(this.store, layout.scheduleRecord(tenant, id));
    if (!schedule) throw notFound('schedule', id);
    return schedule;
  }

  /** Newest first (ids count down in time). */
  async list(tenant: string, after: string | undefined, limit: number): Promise<ListPage<Schedule>> {
    const page = await this.store.list(layout.scheduleIndex(tenant), {
      after: after ? layout.scheduleIndexEntry(tenant, after) : undefined,
      limit: limit + 1,
    });
    const ids = page.objects.map((o) => o.key.slice(o.key.lastIndexOf('/') + 1));
    const hasMore = ids.length > limit;
    const found = await Promise.all(ids.slice(0, limit).map((id) => readJson<Schedule>(this.store, layout.scheduleRecord(tenant, id))));
    const data = found.filter((s): s is Schedule => s !== null);
    return { object: 'list', data, has_more: hasMore, next_after: hasMore ? ids[limit - 1] : null };
  }

  /** Changes what it names; giving cron replaces every and the other way round. Takes effect from the next tick. */
  async update(tenant: string, input: UpdateScheduleInput): Promise<Schedule> {
    const current = await this.get(tenant, input.id);
    const triggerChanged = input.cron !== undefined || input.every !== undefined || input.timezone !== undefined;
    const trigger = triggerChanged
      ? checkTrigger(
          input.cron !== undefined || input.every !== undefined
            ? { cron: input.cron, every: input.every, timezone: input.timezone ?? (input.cron !== undefined ? current.timezone : null) }
            : { cron: current.cron, every: current.every, timezone: input.timezone },
        )
      : { cron: current.cron, timezone: current.timezone, every: current.every };
    if (input.template) await this.checkTemplate(tenant, input.template);
    const next: Schedule = {
      ...current,
      ...trigger,
      name: input.name ?? current.name,
      template: input.template ?? current.template,
      output: input.output ?? current.output,
      skip_unchanged: input.skip_unchanged ?? current.skip_unchanged,
      updated_at: new Date().toISOString(),
    };
    await this.save(tenant, next);
    if (triggerChanged) await this.arm(tenant, next);
    return next;
  }

  pause(tenant: string, id: string): Promise<Schedule> {
    return this.setStatus(tenant, id, 'paused');
  }

  resume(tenant: string, id: string): Promise<Schedule> {
    return this.setStatus(tenant, id, 'active');
  }

  /** Stops it (the scheduler first, so no new tick finds the record) and removes it with its runs; jobs it made stay. */
  async delete(tenant: string, id: string): Promise<{ id: string; object: 'schedule'; deleted: true }> {
    await this.get(tenant, id);
    await this.ticks.removeSchedule(id);
    await this.store.delete(layout.scheduleRecord(tenant, id));
    await this.store.delete(layout.scheduleIndexEntry(tenant, id));
    await this.store.delete(layout.scheduleIndexSystem(id));
    for (;;) {
      const page = await this.store.list(layout.scheduleFolder(tenant, id), { limit: 1000 });
      if (page.objects.length === 0) break;
      await Promise.all(page.objects.map((o) => this.store.delete(o.key)));
    }
    return { id, object: 'schedule', deleted: true };
  }

  async listRuns(tenant: string, id: string, after: number | undefined, limit: number): Promise<ListPage<ScheduleRun>> {
    await this.get(tenant, id);
    const { views, hasMore } = await this.runs.list(tenant, id, after, limit);
    return toListPage(await Promise.all(views.map((v) => this.runs.toPublic(tenant, v))), hasMore);
  }

  async getRun(tenant: string, id: string, runId: number): Promise<ScheduleRun> {
    await this.get(tenant, id);
    const view = await this.runs.view(tenant, id, runId);
    if (!view) throw notFound('run', String(runId));
    return this.runs.toPublic(tenant, view);
  }

  private async setStatus(tenant: string, id: string, status: Schedule['status']): Promise<Schedule> {
    const current = await this.get(tenant, id);
    if (current.status === status) return current;
    const next: Schedule = { ...current, status, updated_at: new Date().toISOString() };
    // Pausing: the record first, so a tick already on its way sees `paused`.
    if (status === 'paused') {
      await this.save(tenant, next);
      await this.whileQueueAway(() => this.ticks.removeSchedule(id));
    } else {
      await this.save(tenant, next);
      await this.arm(tenant, next);
    }
    return next;
  }

  private async arm(tenant: string, schedule: Schedule): Promise<void> {
    if (schedule.status !== 'active') return;
    await this.whileQueueAway(() => this.ticks.upsertSchedule(schedule.id, repeatOf(schedule), { tenant, schedule_id: schedule.id }));
  }

  /**
   * The stored record decides whether a schedule is armed: with Redis away,
   * the API's reconciliation arms or disarms it once Redis is back
   * (jobs/recover.ts), so the change stands. (Delete still needs Redis: it
   * disarms before it forgets the record; without Redis it answers 503.)
   */
  private async whileQueueAway(operation: () => Promise<unknown>): Promise<void> {
    try {
      await operation();
    } catch (err) {
      if (!(err instanceof QueueUnavailableError)) throw err;
      console.warn(`[schedules] Redis is away; reconciliation will apply this change: ${err.message}`);
    }
  }

  private async save(tenant: string, schedule: Schedule): Promise<void> {
    await this.store.put(layout.scheduleRecord(tenant, schedule.id), toJson(schedule), { contentType: 'application/json' });
  }

  /**
   * The template must make sense now: within the model limit, anchor and
   * weights matching the model count, and every lineage it names existing
   * (a lineage deleted later fails that tick's run instead).
   */
  private async checkTemplate(tenant: string, template: FusionRequest): Promise<void> {
    const count = template.models.length;
    if (count > LIMITS.maxModelsPerJob) {
      throw new ApiError('limit_exceeded', `A job fuses at most ${LIMITS.maxModelsPerJob} models; got ${count}`, { field: 'template.models', limit: LIMITS.maxModelsPerJob });
    }
    const anchor = anchorProblem(template.fusion?.anchor, count);
    if (anchor) throw new ApiError('invalid_request', anchor.say('template.fusion.anchor'), { field: 'template.fusion.anchor' });
    const weights = weightsProblem(template.fusion?.weights, count);
    if (weights) throw new ApiError('invalid_request', weights.say('template.fusion.weights'), { field: 'template.fusion.weights' });
    // A template that finetunes and distils would fail every run it starts: refused now, as a job's spec is.
    const training = trainingOptionProblem(givenTrainingFromSpec(template));
    if (training) throw new ApiError('invalid_request', training.say(TEMPLATE_TRAINING_LABELS), { field: `template.${apiFieldOf(training)}` });
    try {
      await resolveRequest(this.lineages, tenant, template);
    } catch (err) {
      if (err instanceof ApiError) throw new ApiError(err.apiCode, `template.${err.message}`, { ...err.details, field: `template.${String(err.details.field ?? 'models')}` });
      throw err;
    }
  }
}
