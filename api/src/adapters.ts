/**
 * Builds the store and queue the configuration asks for. The scale-out
 * adapters (S3, BullMQ) are imported only when configured, so the embedded
 * default loads neither the AWS SDK nor a Redis client.
 */
import { join } from 'node:path';
import type { Config } from './config.ts';
import type { FusionQueueData } from '@clafusion/contract/queue-data';
import type { JobQueue, ObjectStore } from '@clafusion/contract/ports';
import { TICK_ATTEMPTS, type TickQueue, type TickData } from './schedules/tick-queue.ts';

export function folderStoreRoot(config: Config): string {
  return join(config.dataDir, 'store');
}

export async function createStore(config: Config): Promise<ObjectStore> {
  if (config.s3) {
    const s3 = config.s3;
    const { S3Store } = await import('./storage/index.ts');
    const store = new S3Store({
      bucket: s3.bucket,
      prefix: s3.prefix,
      endpoint: s3.endpoint ?? undefined,
      region: s3.region,
      credentials: s3.accessKeyId && s3.secretAccessKey ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } : undefined,
      forcePathStyle: s3.forcePathStyle,
    });
    // A custom endpoint is a local or self-hosted stack: make the bucket if it is missing. On AWS the IaC owns it.
    if (s3.endpoint) await store.ensureBucket();
    return store;
  }
  const { FolderStore } = await import('./storage/index.ts');
  return new FolderStore({ root: folderStoreRoot(config) });
}

export async function createQueue(config: Config): Promise<JobQueue<FusionQueueData>> {
  const { BullMqQueue, InProcessQueue } = await import('./queue/index.ts');
  if (config.redis) {
    return new BullMqQueue<FusionQueueData>({
      name: config.redis.queueName,
      redisUrl: config.redis.url,
      lockDurationMs: config.redis.lockMs,
      stalledIntervalMs: config.redis.stalledIntervalMs,
      unavailableAfterMs: config.redis.unavailableAfterMs,
    });
  }
  return new InProcessQueue<FusionQueueData>();
}

/**
 * The queue schedule ticks travel on: beside the fusion queue, under its
 * name plus `-schedules`, so runners (which consume only the fusion queue)
 * never see a tick; API instances consume it (schedules/tick-queue.ts).
 */
export async function createTickQueue(config: Config): Promise<TickQueue> {
  const { BullMqQueue, InProcessQueue } = await import('./queue/index.ts');
  if (config.redis) {
    return new BullMqQueue<TickData>({
      name: `${config.redis.queueName}-schedules`,
      redisUrl: config.redis.url,
      defaultAttempts: TICK_ATTEMPTS,
      lockDurationMs: config.redis.lockMs,
      stalledIntervalMs: config.redis.stalledIntervalMs,
      unavailableAfterMs: config.redis.unavailableAfterMs,
    });
  }
  return new InProcessQueue<TickData>({ defaultAttempts: TICK_ATTEMPTS });
}
