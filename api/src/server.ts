/**
 * Starts the HTTP server on a store and a queue. With `inProcessRunners`
 * above zero it also runs jobs in this process (the embedded default); the
 * runner is loaded with a dynamic import so the API's own module graph never
 * includes the engine.
 */
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { createApp } from './http/app.ts';
import type { RateLimitSettings } from './http/rate-limit.ts';
import { requeueUnfinishedJobs } from './jobs/recover.ts';
import type { FusionQueueData } from './jobs/queue-data.ts';
import type { JobQueue, ObjectStore, WorkerHandle } from './ports/index.ts';
import { InProcessQueue } from './queue/in-process-queue.ts';
import { TICK_ATTEMPTS, type TickData, type TickQueue, armStoredSchedules } from './schedules/tick-queue.ts';
import { ScheduleTicker } from './schedules/ticker.ts';
import { type ServiceSettings, createServices } from './services.ts';
import type { Services } from './trpc/context.ts';

export interface ServerOptions extends ServiceSettings {
  store: ObjectStore;
  queue: JobQueue<FusionQueueData>;
  host: string;
  port: number;
  /** Jobs run at once in this process; 0 when separate runner processes do the work. */
  inProcessRunners: number;
  /**
   * Re-enqueue jobs the store lists as unfinished, and re-arm the stored
   * schedules (only for queues that forget on restart).
   */
  requeueOnStart: boolean;
  /** Where schedule ticks travel; this process consumes them. Default: an in-process scheduler of its own. */
  ticks?: TickQueue;
  /** Ticks handled at once (each follows its job to the end). Default 8. */
  tickConcurrency?: number;
  /** Per-API-key request rate limit (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST); null = none. */
  rateLimit?: RateLimitSettings | null;
}

export interface RunningServer {
  url: string;
  services: Services;
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const ownTicks = options.ticks === undefined;
  const ticks = options.ticks ?? new InProcessQueue<TickData>({ defaultAttempts: TICK_ATTEMPTS });
  const services = createServices(options.store, options.queue, options, ticks);
  let runner: WorkerHandle | null = null;
  if (options.inProcessRunners > 0) {
    const { startRunner } = await import('../../gpu-runner/src/worker/index.ts');
    runner = startRunner(options.store, options.queue, { concurrency: options.inProcessRunners });
  }
  if (options.requeueOnStart) await requeueUnfinishedJobs(options.store, options.queue);
  // Every API instance consumes ticks: the scheduler enqueues one job per tick cluster-wide, and one instance takes it.
  const ticker = new ScheduleTicker(
    options.store,
    services.jobs,
    services.lineages,
    services.schedules.runs,
    { pollMs: options.eventPollMs, onError: (e) => console.warn('[schedules]', (e as Error).message) },
  );
  const tickWorker = ticks.process(ticker.handle, { concurrency: options.tickConcurrency ?? 8 });
  if (options.requeueOnStart || ownTicks) await armStoredSchedules(options.store, ticks);
  const app = createApp(services, { rateLimit: options.rateLimit });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host}:${port}`;
  return {
    url,
    services,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Open SSE streams would hold the server open until their jobs finish.
      if ('closeAllConnections' in server) server.closeAllConnections();
      await closed;
      ticker.close();
      await tickWorker.close();
      if (ownTicks) await ticks.close();
      await runner?.close();
    },
  };
}
