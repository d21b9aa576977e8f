import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { redisUrl, s3Endpoint, s3rverClient } from './servers.ts';

it('the shared test servers listen on loopback and answer', async () => {
  expect(redisUrl()).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
  expect(s3Endpoint()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  try {
    expect(await redis.ping()).toBe('PONG');
  } finally {
    redis.disconnect();
  }
  const s3 = s3rverClient();
  expect((await s3.send(new ListBucketsCommand({}))).Buckets).toBeDefined();
  s3.destroy();
});
