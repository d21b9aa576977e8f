/**
 * BullMqQueue across a Redis restart (SIGKILL, then a fresh empty server on
 * the same port), on a private redis-server: the queue and its worker
 * survive, operations fail fast with QueueUnavailableError while Redis is
 * away, the owner hears of the reconnect, and what Redis lost is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startPrivateRedis } from '../../../testsupport/redis-server.ts';
import { uniqueName } from '../../../testsupport/servers.ts';
import { QueueUnavailableError } from '@clafusion/contract/ports';
import { BullMqQueue } from './bullmq-queue.ts';
import { waitFor } from './job-queue.conformance.ts';

let redis: PrivateRedis;

beforeAll(async () => {
  redis = await startPrivateRedis();
});

afterAll(async () => {
  await redis?.stop();
});

describe('BullMqQueue: Redis restarted empty under a running job', () => {
  it('survives, fails fast while Redis is away, reports the reconnect, and keeps working', async () => {
    const errors: Error[] = [];
    const queue = new BullMqQueue<{ n: number }>({
      name: uniqueName('restart'),
      redisUrl: redis.url,
      lockDurationMs: 1000,
      stalledIntervalMs: 500,
      // How long an operation waits for an unanswering Redis: long enough that
      // a loaded machine's slow answer is not taken for an outage.
      unavailableAfterMs: 5_000,
      onError: (e) => errors.push(e),
    });
    let reconnects = 0;
    queue.onReconnect(() => reconnects++);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const finished: string[] = [];
    const progress: unknown[] = [];
    const handle = queue.process(async (job) => {
      started.push(job.id);
      if (job.id === 'long') {
        await held;
        progress.push(await job.progress(0.5).then(() => 'sent', (e: unknown) => e));
      }
      finished.push(job.id);
    });
    try {
      await queue.enqueue('long', { n: 1 });
      await waitFor(() => started.includes('long'), 60_000, 'the long job to start');
      await queue.enqueue('queued', { n: 2 });
      expect(await queue.has('queued')).toBe(true);

      await redis.kill();
      // Known down: refused at once, not held until a reconnect.
      await waitFor(
        () => queue.enqueue('during', { n: 3 }).then(() => false, (e: unknown) => e instanceof QueueUnavailableError),
        60_000,
        'enqueue to fail with QueueUnavailableError',
      );
      await expect(queue.has('queued')).rejects.toThrow(QueueUnavailableError);

      await redis.restart();
      await waitFor(() => reconnects === 1, 60_000, 'the reconnect');
      // The fresh Redis is empty: the waiting job is gone (reconciliation's business).
      expect(await queue.has('queued')).toBe(false);
      expect(await queue.has('long')).toBe(false);

      // The running job carries on; completing it in Redis fails (its lock
      // and record are gone), which is reported, not thrown.
      release();
      await waitFor(() => finished.includes('long'), 60_000, 'the long job to finish');
      expect(progress).toEqual([expect.any(Error)]);
      // The worker is still consuming: a job enqueued again runs.
      await queue.enqueue('queued', { n: 2 });
      await waitFor(() => finished.includes('queued'), 60_000, 'the re-enqueued job');
      expect(started.filter((id) => id === 'queued')).toHaveLength(1);
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await handle.close();
      await queue.close();
    }
    // The worker closed on its own: its blocking connection, possibly still in
    // a reconnect backoff from the restart, ended when told to (redis-client.ts),
    // instead of being abandoned after the grace period.
    expect(errors.map((e) => e.message).filter((m) => m.includes('did not close'))).toEqual([]);
  });
});
