/** Wires the store and queue into the services the HTTP layer uses. */
import { FileService } from './files/file-service.ts';
import { JobService } from './jobs/job-service.ts';
import { FileLifecycle } from './lifecycle/file-lifecycle.ts';
import { JobLifecycle } from './lifecycle/job-lifecycle.ts';
import { LineageService } from './lineages/lineage-service.ts';
import type { FusionQueueData } from '@clafusion/contract/queue-data';
import type { JobQueue, ObjectStore } from '@clafusion/contract/ports';
import { LinkSigner } from './links/signed-links.ts';
import { RunStore } from './schedules/runs.ts';
import { ScheduleService } from './schedules/schedule-service.ts';
import type { TickQueue } from './schedules/tick-queue.ts';
import type { Services } from './trpc/context.ts';
import { type SenderOptions, WebhookSender } from './webhooks/sender.ts';
import { DEFAULT_WEBHOOK_SETTINGS, type WebhookSettings, WebhookService } from './webhooks/webhook-service.ts';

export interface ServiceSettings {
  maxUploadBytes: number;
  presignSeconds: number;
  eventPollMs: number;
  publicUrl: string | null;
  /** Webhook delivery settings (WEBHOOK_*), plus the DNS and request functions tests inject. */
  webhooks?: Partial<WebhookSettings> & Pick<SenderOptions, 'lookup' | 'request'>;
}

/** `ticks` is where schedules are armed; whoever consumes it turns ticks into jobs (see schedules/tick-queue.ts). */
export function createServices(store: ObjectStore, queue: JobQueue<FusionQueueData>, settings: ServiceSettings, ticks: TickQueue): Services {
  const files = new FileService(store, { maxUploadBytes: settings.maxUploadBytes, presignSeconds: settings.presignSeconds });
  const lineages = new LineageService(store, files);
  const webhookSettings = { ...DEFAULT_WEBHOOK_SETTINGS, ...settings.webhooks };
  const sender = new WebhookSender({ allowHosts: webhookSettings.allowHosts, timeoutMs: webhookSettings.timeoutMs, lookup: settings.webhooks?.lookup, request: settings.webhooks?.request });
  const webhooks = new WebhookService(store, sender, webhookSettings);
  const jobs = new JobService(store, queue, files, lineages, webhooks);
  const schedules = new ScheduleService(store, ticks, lineages, new RunStore(store, jobs, files, lineages));
  const fileLifecycle = new FileLifecycle(store, files);
  const jobLifecycle = new JobLifecycle(store);
  return { store, files, jobs, lineages, schedules, fileLifecycle, jobLifecycle, webhooks, links: new LinkSigner(store), eventPollMs: settings.eventPollMs, publicUrl: settings.publicUrl };
}
