import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { redisUrl, uniqueName } from '../../../testsupport/servers.ts';
import { BullMqQueue } from './bullmq-queue.ts';
import { runJobQueueConformance, waitFor } from './job-queue.conformance.ts';

// Each case gets its own queue name on the shared Redis.
runJobQueueConformance(
  'BullMqQueue on Redis',
  async <T>() => new BullMqQueue<T>({ name: uniqueName('conf'), redisUrl: redisUrl(), backoff: { type: 'fixed', delayMs: 20 } }),
);

describe('BullMqQueue: a runner that dies mid-job', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('another worker takes the job over after the lock expires and completes it exactly once', async () => {
    const name = uniqueName('crash');
    // Short lock so the stall is noticed in about a second, not a minute.
    const timing = { lockDurationMs: 1000, stalledIntervalMs: 500 };
    const queue = new BullMqQueue<{ model: string }>({ name, redisUrl: redisUrl(), ...timing });
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(new URL('./bullmq-crash-worker.fixture.ts', import.meta.url)), redisUrl(), name],
        { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      children.push(child);
      const messages: { ready?: true; started?: string; attempt?: number }[] = [];
      child.on('message', (m) => messages.push(m as (typeof messages)[number]));
      await waitFor(() => messages.some((m) => m.ready), 20_000, 'the child worker');

      await queue.enqueue('fusion-1', { model: 'a.safetensors' }, { attempts: 1 });
      await waitFor(() => messages.some((m) => m.started === 'fusion-1'), 10_000, 'the child to take the job');
      expect(messages.find((m) => m.started)?.attempt).toBe(1);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;

      const runs: { id: string; attempt: number; data: { model: string } }[] = [];
      const handle = queue.process(async (job) => {
        runs.push({ id: job.id, attempt: job.attempt, data: job.data });
        await job.progress(100);
      });
      await waitFor(() => runs.length === 1, 15_000, 'the recovered job');
      expect(runs[0]).toEqual({ id: 'fusion-1', attempt: 2, data: { model: 'a.safetensors' } });
      // Nothing runs it a third time; it is done and gone.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(runs).toHaveLength(1);
      expect(await queue.waiting()).toBe(0);
      await handle.close();
    } finally {
      await queue.close();
    }
  });
});
