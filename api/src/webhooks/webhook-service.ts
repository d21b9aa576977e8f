/**
 * Webhook endpoints, deliveries and the dispatch pass every API instance
 * runs. All state is in the object store, so any instance can pick up what
 * another started:
 *
 * - a job to watch (`system/webhook-jobs/<job>`, written at create when the
 *   job names a webhook or the tenant registered endpoints) with a cursor of
 *   events already turned into deliveries;
 * - one delivery record per (event, endpoint), created only once (create-only
 *   put), holding the exact body, so every retry sends the same bytes under
 *   the same event id: receivers de-duplicate on `webhook-id`;
 * - a pending index of deliveries still to send; an attempt is claimed with
 *   a create-only claim so two instances do not send it at once.
 *
 * Failed attempts (no answer, or not 2xx) are retried with exponential
 * backoff until `retryForMs` after the event; every attempt is recorded.
 */
import { createHash } from 'node:crypto';
import type { CreateWebhookEndpointInput, FusionJob, JobEvent, ListPage, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventType } from '@clafusion/contract';
import { ApiError, notFound } from '../errors.ts';
import { JobLog, readJson, toJson } from '@clafusion/contract/job-log';
import { isTerminal } from '@clafusion/contract/job-state';
import { claimOnce, releaseClaim } from '../lifecycle/claims.ts';
import { listAll } from '../lifecycle/file-lifecycle.ts';
import { type ObjectStore, ObjectStoreError } from '@clafusion/contract/ports';
import { layout } from '@clafusion/contract/store-layout';
import { BlockedWebhookAddress, checkLiteralHost } from './address-guard.ts';
import type { WebhookSender } from './sender.ts';
import { newWebhookSecret, signWebhook } from './signing.ts';

export interface WebhookSettings {
  /** Milliseconds between dispatch passes; 0 = no periodic pass. */
  pollMs: number;
  /** Delay before the first retry; doubles each time (capped at an hour). */
  retryBaseMs: number;
  /** No retry is scheduled later than this long after the event. */
  retryForMs: number;
  timeoutMs: number;
  /** Hosts or addresses deliveries may reach even though they are loopback/private (WEBHOOK_ALLOW_HOSTS). */
  allowHosts: string[];
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = { pollMs: 1000, retryBaseMs: 5000, retryForMs: 24 * 3_600_000, timeoutMs: 5000, allowHosts: [] };

const DEFAULT_EVENTS: WebhookEventType[] = ['succeeded', 'failed', 'canceled'];
const CLAIM_STALE_MS = 60_000;

interface StoredEndpoint extends WebhookEndpoint {}

interface WatchedJob {
  tenant: string;
  /** Events up to this sequence number have their deliveries made. */
  cursor: number;
}

interface StoredDelivery extends WebhookDelivery {
  tenant: string;
  body: string;
}

const endpointId = (url: string) => `whe_${createHash('sha256').update(url).digest('hex').slice(0, 24)}`;
const root = (tenant: string) => layout.jobIndex(tenant).replace(/fusion-index\/$/, '');

export const webhookKeys = {
  endpoints: (tenant: string) => `${root(tenant)}webhook-endpoints/`,
  endpoint: (tenant: string, id: string) => `${root(tenant)}webhook-endpoints/${id}`,
  deliveries: (tenant: string, jobId: string) => `${root(tenant)}webhook-deliveries/${jobId}/`,
  delivery: (tenant: string, jobId: string, seq: number, endpoint: string) =>
    `${root(tenant)}webhook-deliveries/${jobId}/${String(seq).padStart(10, '0')}-${endpoint}`,
  watchedJobs: () => 'system/webhook-jobs/',
  watchedJob: (jobId: string) => `system/webhook-jobs/${jobId}`,
  pending: () => 'system/webhook-pending/',
  /** Everything a sender needs is in the key (no body to read while another instance deletes it). */
  pendingEntry: (tenant: string, jobId: string, seq: number, endpoint: string) => `system/webhook-pending/${tenant}/${jobId}.${String(seq).padStart(10, '0')}.${endpoint}`,
  claim: (deliveryId: string) => `system/webhook-claims/${deliveryId}`,
};

function publicDelivery(d: StoredDelivery): WebhookDelivery {
  const { tenant: _t, body: _b, ...rest } = d;
  return rest;
}

export class WebhookService {
  constructor(
    private readonly store: ObjectStore,
    private readonly sender: WebhookSender,
    readonly settings: WebhookSettings,
  ) {}

  /** A URL a webhook may name: http(s), and not a literal address the guard refuses (host names are checked at delivery). */
  checkUrl(url: string, field: string): void {
    try {
      checkLiteralHost(url, this.settings.allowHosts);
    } catch (err) {
      if (err instanceof BlockedWebhookAddress) throw new ApiError('invalid_request', `${field}: ${err.message}`, { field });
      throw err;
    }
  }

  /** The endpoint for `url`, made (with a new secret) on first use. */
  async ensureEndpoint(tenant: string, url: string, registration?: { events: WebhookEventType[] }): Promise<WebhookEndpoint> {
    const id = endpointId(url);
    const key = webhookKeys.endpoint(tenant, id);
    const existing = await readJson<StoredEndpoint>(this.store, key);
    if (existing && !registration) return existing;
    const endpoint: StoredEndpoint = {
      id,
      object: 'webhook_endpoint',
      url,
      events: registration?.events ?? existing?.events ?? null,
      registered: registration !== undefined || (existing?.registered ?? false),
      secret: existing?.secret ?? newWebhookSecret(),
      created_at: existing?.created_at ?? new Date().toISOString(),
    };
    if (existing) {
      await this.store.put(key, toJson(endpoint), { contentType: 'application/json' });
      return endpoint;
    }
    try {
      await this.store.put(key, toJson(endpoint), { ifAbsent: true, contentType: 'application/json' });
      return endpoint;
    } catch (err) {
      if (!(err instanceof ObjectStoreError && err.code === 'exists')) throw err;
      return this.ensureEndpoint(tenant, url, registration);
    }
  }

  register(tenant: string, input: CreateWebhookEndpointInput): Promise<WebhookEndpoint> {
    this.checkUrl(input.url, 'url');
    return this.ensureEndpoint(tenant, input.url, { events: input.events ?? DEFAULT_EVENTS });
  }

  async listEndpoints(tenant: string): Promise<{ object: 'list'; data: WebhookEndpoint[] }> {
    const data: WebhookEndpoint[] = [];
    for await (const key of listAll(this.store, webhookKeys.endpoints(tenant))) {
      const e = await readJson<StoredEndpoint>(this.store, key);
      if (e) data.push(e);
    }
    return { object: 'list', data };
  }

  async deleteEndpoint(tenant: string, id: string): Promise<{ id: string; object: 'webhook_endpoint'; deleted: true }> {
    const key = webhookKeys.endpoint(tenant, id);
    if (!(await readJson<StoredEndpoint>(this.store, key))) throw notFound('webhook endpoint', id);
    await this.store.delete(key);
    return { id, object: 'webhook_endpoint', deleted: true };
  }

  /** Called when a job is created: watch it when its spec names a webhook or the tenant registered endpoints. */
  async watchIfWanted(tenant: string, job: FusionJob): Promise<void> {
    let wanted = false;
    if (job.spec.webhook) {
      await this.ensureEndpoint(tenant, job.spec.webhook.url);
      wanted = true;
    } else {
      wanted = (await this.listEndpoints(tenant)).data.some((e) => e.registered);
    }
    if (!wanted) return;
    const watched: WatchedJob = { tenant, cursor: 0 };
    try {
      await this.store.put(webhookKeys.watchedJob(job.id), toJson(watched), { ifAbsent: true, contentType: 'application/json' });
    } catch (err) {
      if (!(err instanceof ObjectStoreError && err.code === 'exists')) throw err;
    }
  }

  async deliveries(tenant: string, jobId: string, limit: number): Promise<ListPage<WebhookDelivery>> {
    if (!(await new JobLog(this.store, tenant, jobId).record())) throw notFound('fusion', jobId);
    const data: WebhookDelivery[] = [];
    for await (const key of listAll(this.store, webhookKeys.deliveries(tenant, jobId))) {
      const d = await readJson<StoredDelivery>(this.store, key);
      if (d) data.push(publicDelivery(d));
      if (data.length > limit) break;
    }
    const hasMore = data.length > limit;
    return { object: 'list', data: data.slice(0, limit), has_more: hasMore, next_after: null };
  }

  /** One pass: turn new events into deliveries, then send what is due. */
  async dispatch(now = new Date()): Promise<void> {
    for await (const key of listAll(this.store, webhookKeys.watchedJobs())) {
      await this.collect(key.slice(key.lastIndexOf('/') + 1), now);
    }
    const due: Promise<void>[] = [];
    for await (const key of listAll(this.store, webhookKeys.pending())) {
      due.push(this.attempt(key, now));
    }
    await Promise.all(due);
  }

  private async collect(jobId: string, now: Date): Promise<void> {
    const watchKey = webhookKeys.watchedJob(jobId);
    const watched = await readJson<WatchedJob>(this.store, watchKey);
    if (!watched) return;
    const log = new JobLog(this.store, watched.tenant, jobId);
    const state = await log.state();
    if (!state) {
      await this.store.delete(watchKey);
      return;
    }
    const events = await log.events(watched.cursor, 1000);
    if (events.length > 0) {
      const endpoints = await this.targets(watched.tenant, state.job);
      for (const event of events) {
        if (!(['succeeded', 'failed', 'canceled', 'progress'] as string[]).includes(event.type)) continue;
        for (const endpoint of endpoints) {
          const wants = endpoint.events ?? DEFAULT_EVENTS;
          if (wants.includes(event.type as WebhookEventType)) await this.makeDelivery(watched.tenant, state.job, event, endpoint, now);
        }
      }
      const cursor = events[events.length - 1].seq;
      await this.store.put(watchKey, toJson({ ...watched, cursor }), { contentType: 'application/json' });
    }
    if (isTerminal(state.job) && events.length < 1000 && (events.length === 0 || events[events.length - 1].seq >= state.seq)) {
      await this.store.delete(watchKey);
    }
  }

  /** The job's own webhook (with the events its spec names) and the tenant's registered endpoints. */
  private async targets(tenant: string, job: FusionJob): Promise<WebhookEndpoint[]> {
    const registered = (await this.listEndpoints(tenant)).data.filter((e) => e.registered);
    const own = job.spec.webhook;
    if (!own) return registered;
    const endpoint = await this.ensureEndpoint(tenant, own.url);
    const ownEvents = own.events ?? DEFAULT_EVENTS;
    const merged = registered.filter((e) => e.id !== endpoint.id);
    const union = [...new Set([...ownEvents, ...(endpoint.registered ? (endpoint.events ?? []) : [])])];
    return [...merged, { ...endpoint, events: union }];
  }

  private async makeDelivery(tenant: string, job: FusionJob, event: JobEvent, endpoint: WebhookEndpoint, now: Date): Promise<void> {
    const eventId = `evt_${job.id}_${event.seq}`;
    const payload: WebhookEvent = {
      id: eventId,
      object: 'event',
      type: `fusion.${event.type}`,
      created_at: event.created_at,
      data: { job_id: job.id, event, ...(isTerminal(job) && event.type !== 'progress' ? { job } : {}) },
    };
    const delivery: StoredDelivery = {
      id: `${job.id}.${event.seq}.${endpoint.id}`,
      object: 'webhook_delivery',
      event_id: eventId,
      event_type: payload.type,
      job_id: job.id,
      url: endpoint.url,
      status: 'pending',
      attempts: [],
      next_attempt_at: now.toISOString(),
      created_at: now.toISOString(),
      tenant,
      body: JSON.stringify(payload),
    };
    try {
      await this.store.put(webhookKeys.delivery(tenant, job.id, event.seq, endpoint.id), toJson(delivery), { ifAbsent: true, contentType: 'application/json' });
    } catch (err) {
      if (err instanceof ObjectStoreError && err.code === 'exists') return; // made by an earlier or a concurrent pass
      throw err;
    }
    await this.store.put(webhookKeys.pendingEntry(tenant, job.id, event.seq, endpoint.id), toJson({}), { contentType: 'application/json' });
  }

  private async attempt(pendingKey: string, now: Date): Promise<void> {
    const [tenant, name] = pendingKey.slice(webhookKeys.pending().length).split('/');
    const [jobId, seq, endpointIdOf] = name.split('.');
    const entry = { key: webhookKeys.delivery(tenant, jobId, Number(seq), endpointIdOf) };
    const delivery = await readJson<StoredDelivery>(this.store, entry.key);
    if (!delivery || delivery.status !== 'pending') {
      await this.store.delete(pendingKey);
      return;
    }
    if (delivery.next_attempt_at && Date.parse(delivery.next_attempt_at) > now.getTime()) return;
    const claim = webhookKeys.claim(delivery.id);
    if (!(await claimOnce(this.store, claim, now, CLAIM_STALE_MS))) return;
    try {
      // Re-read under the claim: another instance may have just sent it.
      const current = await readJson<StoredDelivery>(this.store, entry.key);
      if (!current || current.status !== 'pending' || (current.next_attempt_at && Date.parse(current.next_attempt_at) > Date.now())) return;
      const endpoint = await readJson<StoredEndpoint>(this.store, webhookKeys.endpoint(current.tenant, current.id.split('.')[2]));
      const at = new Date();
      const result = endpoint
        ? await this.sendSigned(current, endpoint.secret, at)
        : { status: null, error: 'the endpoint was deleted' };
      const attempts = [...current.attempts, { at: at.toISOString(), status: result.status, error: result.error }];
      const ok = result.status !== null && result.status >= 200 && result.status < 300;
      const retryAt = at.getTime() + Math.min(this.settings.retryBaseMs * 2 ** (attempts.length - 1), 3_600_000);
      const giveUp = !endpoint || retryAt - Date.parse(current.created_at) > this.settings.retryForMs;
      const next: StoredDelivery = {
        ...current,
        attempts,
        status: ok ? 'delivered' : giveUp ? 'failed' : 'pending',
        next_attempt_at: ok || giveUp ? null : new Date(retryAt).toISOString(),
      };
      await this.store.put(entry.key, toJson(next), { contentType: 'application/json' });
      if (next.status !== 'pending') await this.store.delete(pendingKey);
    } finally {
      await releaseClaim(this.store, claim);
    }
  }

  private sendSigned(delivery: StoredDelivery, secret: string, at: Date) {
    const timestamp = Math.floor(at.getTime() / 1000);
    return this.sender.send(
      delivery.url,
      {
        'webhook-id': delivery.event_id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(secret, delivery.event_id, timestamp, delivery.body),
      },
      delivery.body,
    );
  }
}

/** Runs dispatch passes every `pollMs` (a pass never overlaps the previous one). */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly service: WebhookService) {}

  start(): void {
    if (this.service.settings.pollMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.service
        .dispatch()
        .catch((err: unknown) => console.warn('[webhooks]', err instanceof Error ? err.message : err))
        .finally(() => {
          this.running = null;
        });
    }, this.service.settings.pollMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
