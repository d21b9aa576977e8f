/**
 * The bundles the Lambda functions and the API image run (infra/bundle):
 * built here the same way, then run as built, outside the workspace's
 * module graph — the Lambda bundle against the shared test s3rver and
 * Redis (the deployed configuration: S3 store, Redis URL), and the
 * queue-depth bundle against real BullMQ jobs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../api/src/auth/api-keys.ts';
import type { CreateFileResult } from '../../api/contract/src/index.ts';
import { BullMqQueue } from '../../api/src/queue/bullmq-queue.ts';
import { S3Store } from '../../api/src/storage/s3-store.ts';
import { type BundleResult, bundle } from '../bundle/api-bundle.ts';
import type * as LambdaModule from '../../api/src/lambda.ts';
import type * as QueueDepthModule from '../cdk/lambda/queue-depth.ts';
import { redisUrl, s3Credentials, s3Endpoint, uniqueName } from '../../testsupport/servers.ts';
import { DOMAIN, functionUrlEvent, lambdaContext } from './support/function-url-event.ts';

const out = mkdtempSync(join(tmpdir(), 'clafusion-bundles-'));
const built: Partial<Record<'lambda' | 'server' | 'queue-depth', BundleResult>> = {};

beforeAll(async () => {
  for (const entry of ['lambda', 'server', 'queue-depth'] as const) built[entry] = await bundle(entry, join(out, entry));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('bundles', () => {
  it('leave tfjs, the runner and the pipeline out of the API bundles (header parsing from gpu-runner/model-format is pure and stays)', () => {
    for (const entry of ['lambda', 'server'] as const) {
      const inputs = built[entry]!.inputs;
      expect(inputs).toContain(entry === 'lambda' ? 'api/src/lambda.ts' : 'api/src/main.ts');
      expect(inputs.filter((f) => f.includes('@tensorflow') || /^gpu-runner\/src\/(worker|pipeline|runtime|engine\/nn)\//.test(f))).toEqual([]);
    }
  });

  it('keep the queue-depth function small: no API app inside', () => {
    const inputs = built['queue-depth']!.inputs;
    expect(inputs.some((f) => f.includes('node_modules/bullmq/'))).toBe(true);
    expect(inputs.filter((f) => f.includes('node_modules/hono/') || f.includes('@aws-sdk') || f.startsWith('api/src/http/'))).toEqual([]);
  });
});

describe('the Lambda bundle, run as built, on S3 and Redis', () => {
  it('serves /healthz and an authenticated request that presigns an upload on the S3 store', async () => {
    const lambda = (await import(pathToFileURL(built.lambda!.file).href)) as typeof LambdaModule;
    const bucket = uniqueName('lambda');
    const env = {
      S3_BUCKET: bucket,
      S3_ENDPOINT: s3Endpoint(),
      S3_ACCESS_KEY_ID: s3Credentials().accessKeyId,
      S3_SECRET_ACCESS_KEY: s3Credentials().secretAccessKey,
      REDIS_URL: redisUrl(),
      QUEUE_NAME: uniqueName('lambda-queue'),
    };
    const config = await lambda.lambdaConfigFromEnv(env);
    const handler = await lambda.createLambdaHandler(config);

    const health = await handler(functionUrlEvent({ path: '/healthz' }), lambdaContext());
    expect(health.statusCode).toBe(200);

    const store = new S3Store({ bucket, endpoint: s3Endpoint(), region: 'us-east-1', credentials: s3Credentials(), forcePathStyle: true });
    const { token } = await createApiKey(store, 'acme');
    const event = functionUrlEvent({ method: 'POST', path: '/v1/files', headers: { authorization: `Bearer ${token}` }, json: { name: 'a.safetensors', purpose: 'model', size: 1234 } });
    const res = await handler(event, lambdaContext());
    expect(res.statusCode).toBe(200);
    const { upload } = JSON.parse(res.body) as CreateFileResult;
    // The S3 store presigns: the client PUTs straight to S3, not through the function (whose payload limit is 6 MB).
    expect(upload.via_api).toBe(false);
    expect(upload.url.startsWith(`${s3Endpoint()}/${bucket}/tenants/acme/files/`)).toBe(true);
    expect(upload.url).not.toContain(DOMAIN);
  });
});

describe('the queue-depth bundle', () => {
  it('counts the jobs the service enqueues through its BullMQ adapter', async () => {
    const qd = (await import(pathToFileURL(built['queue-depth']!.file).href)) as typeof QueueDepthModule;
    const name = uniqueName('depth-adapter');
    const queue = new BullMqQueue<{ n: number }>({ name, redisUrl: redisUrl() });
    try {
      for (const n of [1, 2, 3]) await queue.enqueue(`fus_depth${n}`, { n });
      const lines: string[] = [];
      const counts = await qd.publishQueueDepth({ REDIS_URL: redisUrl(), QUEUE_NAME: name }, (l) => lines.push(l));
      expect(counts).toEqual({ waiting: 3, prioritized: 0, active: 0, delayed: 0 });
      expect(JSON.parse(lines[0])).toMatchObject({ Queue: name, QueueDepth: 3 });
    } finally {
      await queue.close();
    }
  });

  it('publishes waiting + prioritized + active as QueueDepth in one EMF line, leaving delayed retries out', async () => {
    const qd = (await import(pathToFileURL(built['queue-depth']!.file).href)) as typeof QueueDepthModule;
    const name = uniqueName('depth');
    const connection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const queue = new Queue(name, { connection, prefix: qd.BULLMQ_PREFIX });
    try {
      await queue.add('fusion', { n: 1 });
      await queue.add('fusion', { n: 2 });
      await queue.add('fusion', { n: 3 }, { priority: 5 });
      await queue.add('fusion', { n: 4 }, { delay: 60_000 });
      const lines: string[] = [];
      const counts = await qd.publishQueueDepth({ REDIS_URL: redisUrl(), QUEUE_NAME: name }, (l) => lines.push(l));
      expect(counts).toEqual({ waiting: 2, prioritized: 1, active: 0, delayed: 1 });
      expect(lines).toHaveLength(1);
      const emf = JSON.parse(lines[0]) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
      expect(emf).toMatchObject({ Queue: name, QueueDepth: 3, Waiting: 3, Active: 0, Delayed: 1 });
      expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Clafusion', Dimensions: [['Queue']] });
      expect(emf._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name)).toContain('QueueDepth');
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      connection.disconnect();
    }
  });
});
