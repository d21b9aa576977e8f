/**
 * Settings from environment variables (README, "The service"). Unset means
 * the embedded default: a folder store under `.data/`, the in-process queue
 * and an in-process runner. `S3_BUCKET` switches the store to S3, `REDIS_URL`
 * the queue to BullMQ (runners then run as `npm run runner` processes).
 */
import { resolve } from 'node:path';
import { LIMITS } from '@clafusion/contract';
import type { SweeperSettings } from './lifecycle/sweeper.ts';
import type { WebhookSettings } from './webhooks/webhook-service.ts';

export interface S3Settings {
  bucket: string;
  /** Prepended to every key ('' or ending with '/'), to share a bucket. */
  prefix: string;
  endpoint: string | null;
  region: string;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  forcePathStyle: boolean;
}

export interface RedisSettings {
  url: string;
  queueName: string;
  /** BullMQ lock: a runner silent for longer is presumed dead and its job handed to another. */
  lockMs: number;
  stalledIntervalMs: number;
  /** How long a queue operation waits for an unreachable Redis before it gives up (job creation still succeeds). */
  unavailableAfterMs: number;
}

export interface Config {
  host: string;
  port: number;
  publicUrl: string | null;
  dataDir: string;
  s3: S3Settings | null;
  redis: RedisSettings | null;
  /** Jobs the API process runs itself (0 when runner processes do the work). */
  inProcessRunners: number;
  /** Jobs one `npm run runner` process runs at once. */
  runnerConcurrency: number;
  maxUploadBytes: number;
  presignSeconds: number;
  eventPollMs: number;
  /**
   * Milliseconds between the API's reconciliation passes, which put
   * unfinished jobs and active schedules back on a queue that lost them (a
   * Redis restarted empty); 0 turns the periodic pass off (it still runs on
   * start and on every Redis reconnect).
   */
  reconcileIntervalMs: number;
  /** Per-API-key token bucket; null when RATE_LIMIT_PER_SECOND is 0. */
  rateLimit: { perSecond: number; burst: number } | null;
  /** Retention (lifecycle/sweeper.ts): PENDING_UPLOAD_TTL seconds, JOB_RETENTION_DAYS, SWEEP_INTERVAL_MS. */
  sweeper: SweeperSettings;
  /** Webhook deliveries: WEBHOOK_ALLOW_HOSTS, WEBHOOK_POLL_MS, WEBHOOK_RETRY_BASE_MS, WEBHOOK_RETRY_FOR_SECONDS, WEBHOOK_TIMEOUT_MS. */
  webhooks: WebhookSettings;
  /** Origins browsers may call the API from (CORS_ORIGINS, comma-separated, or `*`); none by default. */
  corsOrigins: string[];
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

function text(env: Env, name: string): string | null {
  const raw = env[name]?.trim();
  return raw ? raw : null;
}

/** 20 requests/s sustained with bursts of 100 per key by default; RATE_LIMIT_PER_SECOND=0 turns it off. */
function rateLimitFromEnv(env: Env): Config['rateLimit'] {
  const perSecond = integer(env, 'RATE_LIMIT_PER_SECOND', 20);
  if (perSecond === 0) return null;
  return { perSecond, burst: integer(env, 'RATE_LIMIT_BURST', 5 * perSecond, 1) };
}

export function configFromEnv(env: Env = process.env): Config {
  const bucket = text(env, 'S3_BUCKET');
  const endpoint = text(env, 'S3_ENDPOINT');
  const redisUrl = text(env, 'REDIS_URL');
  const pathStyle = text(env, 'S3_FORCE_PATH_STYLE');
  return {
    host: text(env, 'HOST') ?? '127.0.0.1',
    port: integer(env, 'PORT', 8787),
    publicUrl: text(env, 'PUBLIC_URL')?.replace(/\/+$/, '') ?? null,
    dataDir: resolve(text(env, 'DATA_DIR') ?? '.data'),
    s3: bucket
      ? {
          bucket,
          prefix: text(env, 'S3_PREFIX') ?? '',
          endpoint,
          region: text(env, 'S3_REGION') ?? 'us-east-1',
          accessKeyId: text(env, 'S3_ACCESS_KEY_ID'),
          secretAccessKey: text(env, 'S3_SECRET_ACCESS_KEY'),
          // Custom endpoints (MinIO, Ceph, s3rver) usually want path-style URLs.
          forcePathStyle: pathStyle === null ? endpoint !== null : pathStyle === 'true',
        }
      : null,
    redis: redisUrl
      ? {
          url: redisUrl,
          queueName: text(env, 'QUEUE_NAME') ?? 'clafusion-fusions',
          lockMs: integer(env, 'QUEUE_LOCK_MS', 30_000, 100),
          stalledIntervalMs: integer(env, 'QUEUE_STALLED_INTERVAL_MS', 15_000, 100),
          unavailableAfterMs: integer(env, 'QUEUE_UNAVAILABLE_AFTER_MS', 5_000, 1),
        }
      : null,
    inProcessRunners: integer(env, 'RUNNERS', redisUrl ? 0 : 1),
    runnerConcurrency: integer(env, 'RUNNER_CONCURRENCY', 1, 1),
    maxUploadBytes: integer(env, 'MAX_UPLOAD_BYTES', LIMITS.maxUploadBytes, 1),
    presignSeconds: integer(env, 'PRESIGN_SECONDS', 900, 1),
    eventPollMs: integer(env, 'EVENT_POLL_MS', 500, 10),
    reconcileIntervalMs: integer(env, 'RECONCILE_INTERVAL_MS', 60_000),
    rateLimit: rateLimitFromEnv(env),
    sweeper: {
      intervalMs: integer(env, 'SWEEP_INTERVAL_MS', 60_000),
      pendingUploadTtlMs: integer(env, 'PENDING_UPLOAD_TTL', 86_400, 1) * 1000,
      jobRetentionMs: integer(env, 'JOB_RETENTION_DAYS', 0) === 0 ? null : integer(env, 'JOB_RETENTION_DAYS', 0) * 86_400_000,
    },
    corsOrigins: (text(env, 'CORS_ORIGINS') ?? '').split(',').map((o) => o.trim().replace(/\/+$/, '')).filter((o) => o !== ''),
    webhooks: {
      pollMs: integer(env, 'WEBHOOK_POLL_MS', 1000),
      retryBaseMs: integer(env, 'WEBHOOK_RETRY_BASE_MS', 5000, 1),
      retryForMs: integer(env, 'WEBHOOK_RETRY_FOR_SECONDS', 86_400, 1) * 1000,
      timeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 5000, 1),
      allowHosts: (text(env, 'WEBHOOK_ALLOW_HOSTS') ?? '').split(',').map((h) => h.trim()).filter((h) => h !== ''),
    },
  };
}
