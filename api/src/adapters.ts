/**
 * Builds the store and queue the configuration asks for. The scale-out
 * adapters (S3, BullMQ) are imported only when configured, so the embedded
 * default loads neither the AWS SDK nor a Redis client.
 */
import { join } from 'node:path';
import type { Config } from './config.ts';
import type { FusionQueueData } from './jobs/queue-data.ts';
import type { JobQueue, ObjectStore } from './ports/index.ts';

export function folderStoreRoot(config: Config): string {
  return join(config.dataDir, 'store');
}

export async function createStore(config: Config): Promise<ObjectStore> {
  const { FolderStore } = await import('./storage/index.ts');
  return new FolderStore({ root: folderStoreRoot(config) });
}

export async function createQueue(config: Config): Promise<JobQueue<FusionQueueData>> {
  const { InProcessQueue } = await import('./queue/index.ts');
  return new InProcessQueue<FusionQueueData>();
}

/** The in-process queue forgets its jobs on exit; the store remembers which are unfinished. */
export function queueForgetsOnRestart(config: Config): boolean {
  return config.redis === null;
}
