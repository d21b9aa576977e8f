/**
 * Publishes the fusion queue's depth to CloudWatch once a minute (an
 * EventBridge schedule invokes it): the metric the GPU runners' ECS service
 * scales on. It reads BullMQ's counters straight from Redis and writes the
 * metric as one Embedded Metric Format log line, so the function needs
 * neither the CloudWatch SDK nor a network path to CloudWatch (Lambda ships
 * its logs itself; the VPC only has to reach Redis).
 *
 * QueueDepth = waiting + prioritized + active: the jobs that need a runner
 * now. Delayed jobs (retries in their backoff) come back as waiting; counting
 * them would keep GPUs up for jobs that cannot start yet.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { readSecretViaExtension, redisUrlWithToken } from '../../../api/src/lambda-secrets.ts';

export const METRIC_NAMESPACE = 'Clafusion';
export const QUEUE_DEPTH_METRIC = 'QueueDepth';

export interface QueueCounts {
  waiting: number;
  prioritized: number;
  active: number;
  delayed: number;
}

/** The key prefix the service's queue adapter uses (api/src/queue/bullmq-queue.ts; BullMQ's own default is `bull`). */
export const BULLMQ_PREFIX = 'clafusion';

export const depthOf = (c: QueueCounts): number => c.waiting + c.prioritized + c.active;

/** The EMF document CloudWatch turns into metrics (dimension: the queue name). */
export function emfRecord(queueName: string, counts: QueueCounts, at: Date): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: at.getTime(),
      CloudWatchMetrics: [
        {
          Namespace: METRIC_NAMESPACE,
          Dimensions: [['Queue']],
          Metrics: [
            { Name: QUEUE_DEPTH_METRIC, Unit: 'Count' },
            { Name: 'Waiting', Unit: 'Count' },
            { Name: 'Active', Unit: 'Count' },
            { Name: 'Delayed', Unit: 'Count' },
          ],
        },
      ],
    },
    Queue: queueName,
    [QUEUE_DEPTH_METRIC]: depthOf(counts),
    Waiting: counts.waiting + counts.prioritized,
    Active: counts.active,
    Delayed: counts.delayed,
  };
}

export async function readCounts(redisUrl: string, queueName: string, prefix: string): Promise<QueueCounts> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 5_000, lazyConnect: true });
  const queue = new Queue(queueName, { connection, prefix });
  try {
    const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    return { waiting: c.waiting ?? 0, prioritized: c.prioritized ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0 };
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

type Env = Record<string, string | undefined>;

export async function publishQueueDepth(env: Env = process.env, log: (line: string) => void = console.log): Promise<QueueCounts> {
  const queueName = env.QUEUE_NAME || 'clafusion-fusions';
  if (!env.REDIS_URL) throw new Error('REDIS_URL is not set');
  const url = env.REDIS_AUTH_SECRET_ARN ? redisUrlWithToken(env.REDIS_URL, await readSecretViaExtension(env.REDIS_AUTH_SECRET_ARN, env)) : env.REDIS_URL;
  const counts = await readCounts(url, queueName, env.QUEUE_PREFIX || BULLMQ_PREFIX);
  log(JSON.stringify(emfRecord(queueName, counts, new Date())));
  return counts;
}

export const handler = async (): Promise<QueueCounts> => publishQueueDepth();
