/** Per-request context: the services, the caller's tenant (from the API key) and request headers that matter. */
import { authenticate } from '../auth/api-keys.ts';
import type { FileService } from '../files/file-service.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { FileLifecycle } from '../lifecycle/file-lifecycle.ts';
import type { JobLifecycle } from '../lifecycle/job-lifecycle.ts';
import type { LineageService } from '../lineages/lineage-service.ts';
import type { ObjectStore } from '@clafusion/contract/ports';
import type { LinkSigner } from '../links/signed-links.ts';
import type { ScheduleService } from '../schedules/schedule-service.ts';
import type { WebhookService } from '../webhooks/webhook-service.ts';

export interface Services {
  store: ObjectStore;
  files: FileService;
  jobs: JobService;
  lineages: LineageService;
  schedules: ScheduleService;
  /** Listing, deletion and retention of files and of jobs. */
  fileLifecycle: FileLifecycle;
  jobLifecycle: JobLifecycle;
  webhooks: WebhookService;
  links: LinkSigner;
  /** How often event streams look for new events in the store. */
  eventPollMs: number;
  /** The URL clients reach the API at (upload and download links); null = the request's own origin. */
  publicUrl: string | null;
}

export interface Context {
  services: Services;
  /** null when the request has no valid API key; protected procedures refuse it. */
  tenant: string | null;
  idempotencyKey: string | null;
  baseUrl: string;
}

export async function createContext(services: Services, req: Request): Promise<Context> {
  return {
    services,
    tenant: await authenticate(services.store, req.headers.get('authorization')),
    idempotencyKey: req.headers.get('idempotency-key'),
    baseUrl: services.publicUrl ?? new URL(req.url).origin,
  };
}
