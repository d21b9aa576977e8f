/**
 * Starts the HTTP server on a store and a queue. With `inProcessRunners`
 * above zero it also runs jobs in this process (the embedded default) with
 * the runner it is given (`runner`, a factory): the API never imports the
 * worker or the engine; the processes that want one wire it in
 * (app/embedded.ts, used by `npm start` and the tests).
 */
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { createApp } from './http/app.ts';
import type { RateLimitSettings } from './http/rate-limit.ts';
import { Reconciler, reconcileSchedules } from './jobs/recover.ts';
import type { FusionQueueData } from '@clafusion/contract/queue-data';
import { type JobQueue, type ObjectStore, QueueUnavailableError, type WorkerHandle } from '@clafusion/contract/ports';
import { Sweeper, type SweeperSettings } from './lifecycle/sweeper.ts';
import { WebhookDispatcher } from './webhooks/webhook-service.ts';
import { InProcessQueue } from './queue/in-process-queue.ts';
import { TICK_ATTEMPTS, type TickData, type TickQueue } from './schedules/tick-queue.ts';
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
  /** Starts the in-process runner; required when `inProcessRunners` is above zero. */
  runner?: RunnerFactory;
  /**
   * Reconcile on start: re-enqueue the jobs the store lists as unfinished
   * that the queue lacks, and re-arm the stored schedules it lacks
   * (jobs/recover.ts). `npm start` always does; with either queue it is
   * harmless, since what the queue still holds is left alone.
   */
  requeueOnStart: boolean;
  /**
   * Milliseconds between periodic reconciliation passes (RECONCILE_INTERVAL_MS),
   * which heal a Redis that lost its jobs while this process kept running;
   * 0 or unset for none. A pass also runs whenever the queue's connection
   * comes back after being lost.
   */
  reconcileIntervalMs?: number;
  /** Where schedule ticks travel; this process consumes them. Default: an in-process scheduler of its own. */
  ticks?: TickQueue;
  /** Ticks handled at once (each follows its job to the end). Default 8. */
  tickConcurrency?: number;
  /** Per-API-key request rate limit (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST); null = none. */
  rateLimit?: RateLimitSettings | null;
  /** Retention sweeps (PENDING_UPLOAD_TTL, JOB_RETENTION_DAYS); default: pending uploads expire after a day, jobs are kept, a pass a minute. */
  sweeper?: SweeperSettings;
  /** Origins browsers may call from (CORS_ORIGINS); none by default. */
  corsOrigins?: string[];
}

/** What an in-process runner is to the API: something that takes jobs from the queue until closed. */
export type RunnerFactory = (store: ObjectStore, queue: JobQueue<FusionQueueData>, options: { concurrency: number }) => WorkerHandle;

export interface RunningServer {
  url: string;
  services: Services;
  sweeper: Sweeper;
  close(): Promise<void>;
}

const DEFAULT_SWEEPER: SweeperSettings = { intervalMs: 60_000, pendingUploadTtlMs: 86_400_000, jobRetentionMs: null };

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const ownTicks = options.ticks === undefined;
  const ticks = options.ticks ?? new InProcessQueue<TickData>({ defaultAttempts: TICK_ATTEMPTS });
  const services = createServices(options.store, options.queue, options, ticks);
  let runner: WorkerHandle | null = null;
  if (options.inProcessRunners > 0) {
    if (!options.runner) {
      throw new Error('This API build has no in-process runner (the engine is not bundled). Set RUNNERS=0 and REDIS_URL, and run jobs with the runner image.');
    }
    runner = options.runner(options.store, options.queue, { concurrency: options.inProcessRunners });
  }
  // Every API instance consumes ticks: the scheduler enqueues one job per tick cluster-wide, and one instance takes it.
  const ticker = new ScheduleTicker(
    options.store,
    services.jobs,
    services.lineages,
    services.schedules.runs,
    { pollMs: options.eventPollMs, onError: (e) => console.warn('[schedules]', (e as Error).message) },
  );
  const tickWorker = ticks.process(ticker.handle, { concurrency: options.tickConcurrency ?? 8 });
  const reconciler = new Reconciler(options.store, options.queue, ticks, { intervalMs: options.reconcileIntervalMs ?? 0 });
  try {
    if (options.requeueOnStart) await reconciler.run();
    else if (ownTicks) await reconcileSchedules(options.store, ticks);
  } catch (err) {
    // Redis is away: serve anyway; the pass after it reconnects puts the jobs back.
    if (!(err instanceof QueueUnavailableError)) throw err;
    console.warn('[reconcile]', err.message);
  }
  reconciler.start();
  const sweeper = new Sweeper(services.fileLifecycle, services.jobLifecycle, options.sweeper ?? DEFAULT_SWEEPER);
  sweeper.start();
  const dispatcher = new WebhookDispatcher(services.webhooks);
  dispatcher.start();
  const app = createApp(services, { rateLimit: options.rateLimit, corsOrigins: options.corsOrigins });
  const server: ServerType = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject); // e.g. EADDRINUSE: main.ts says which port and how to choose another
  }).catch(async (err: unknown) => {
    await Promise.all([sweeper.close(), dispatcher.close()]);
    throw err;
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host}:${port}`;
  return {
    url,
    services,
    sweeper,
    async close() {
      await sweeper.close();
      await dispatcher.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Open SSE streams would hold the server open until their jobs finish.
      if ('closeAllConnections' in server) server.closeAllConnections();
      await closed;
      await reconciler.close();
      ticker.close();
      await tickWorker.close();
      if (ownTicks) await ticks.close();
      await runner?.close();
    },
  };
}
