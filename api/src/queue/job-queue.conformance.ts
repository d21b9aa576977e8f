/**
 * The job-queue conformance suite: the in-process queue and the BullMQ queue
 * run these same cases (in-process-queue.test.ts, bullmq-queue.test.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { UnrecoverableJobError, type JobQueue, type JobScheduler, type QueuedJob } from '@clafusion/contract/ports';

export type QueueUnderTest<T> = JobQueue<T> & JobScheduler<T>;

/**
 * Makes a fresh, empty queue for one case. Adapters are configured with a
 * short fixed retry backoff (tens of ms) so the retry cases stay fast.
 */
export type MakeQueue = <T>() => Promise<QueueUnderTest<T>>;

/** Polls `condition` every 10 ms, failing after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

export function runJobQueueConformance(name: string, makeQueue: MakeQueue): void {
  describe(`JobQueue conformance: ${name}`, () => {
    /** Runs a case with a fresh queue that is closed afterwards, whatever happens. */
    const withQueue = <T>(fn: (queue: QueueUnderTest<T>) => Promise<void>) => async () => {
      const queue = await makeQueue<T>();
      try {
        await fn(queue);
      } finally {
        await queue.close();
      }
    };

    it(
      'runs each job exactly once, FIFO, with its data',
      withQueue<{ n: number }>(async (queue) => {
        const ids = Array.from({ length: 12 }, (_, i) => `job-${String(i).padStart(2, '0')}`);
        for (const [i, id] of ids.entries()) await queue.enqueue(id, { n: i });
        expect(await queue.waiting()).toBe(12);
        const seen: string[] = [];
        const handle = queue.process(async (job) => {
          expect(job.data.n).toBe(ids.indexOf(job.id));
          expect(job.attempt).toBe(1);
          expect(job.signal.aborted).toBe(false);
          seen.push(job.id);
        });
        await waitFor(() => seen.length === 12, 5_000, 'all jobs');
        await sleep(100);
        await handle.close();
        expect(seen).toEqual(ids);
        expect(await queue.waiting()).toBe(0);
      }),
    );

    it(
      'has(id) is true while a job is waiting or running and false once it finished or was never there',
      withQueue<null>(async (queue) => {
        expect(await queue.has('nobody')).toBe(false);
        await queue.enqueue('held', null);
        expect(await queue.has('held')).toBe(true);
        const hold = gate();
        let started = false;
        const handle = queue.process(async () => {
          started = true;
          await hold.promise;
        });
        await waitFor(() => started, 5_000, 'the job to start');
        expect(await queue.has('held')).toBe(true);
        // Enqueueing a running job again adds nothing.
        await queue.enqueue('held', null);
        expect(await queue.waiting()).toBe(0);
        hold.open();
        await waitFor(async () => !(await queue.has('held')), 5_000, 'the job to be forgotten');
        await handle.close();
      }),
    );

    it(
      'runs at most `concurrency` jobs at a time, and uses all of it',
      withQueue<null>(async (queue) => {
        let running = 0;
        let peak = 0;
        let done = 0;
        for (let i = 0; i < 8; i++) await queue.enqueue(`c${i}`, null);
        const handle = queue.process(
          async () => {
            running++;
            peak = Math.max(peak, running);
            await sleep(60);
            running--;
            done++;
          },
          { concurrency: 3 },
        );
        await waitFor(() => done === 8, 5_000, 'all jobs');
        await handle.close();
        expect(peak).toBe(3);
      }),
    );

    it(
      'retries a failed job until it succeeds, counting attempts',
      withQueue<null>(async (queue) => {
        const attempts: number[] = [];
        let succeeded = false;
        await queue.enqueue('flaky', null, { attempts: 3 });
        const handle = queue.process(async (job) => {
          attempts.push(job.attempt);
          expect(job.maxAttempts).toBe(3);
          if (job.attempt < 3) throw new Error(`transient failure ${job.attempt}`);
          succeeded = true;
        });
        await waitFor(() => succeeded, 5_000, 'success');
        await handle.close();
        expect(attempts).toEqual([1, 2, 3]);
      }),
    );

    it(
      'stops after the last attempt',
      withQueue<null>(async (queue) => {
        let runs = 0;
        await queue.enqueue('always-fails', null, { attempts: 2 });
        const handle = queue.process(async () => {
          runs++;
          throw new Error('broken');
        });
        await waitFor(() => runs === 2, 5_000, 'two attempts');
        await sleep(300);
        await handle.close();
        expect(runs).toBe(2);
        expect(await queue.waiting()).toBe(0);
      }),
    );

    it(
      'fails an UnrecoverableJobError at once, without retries',
      withQueue<null>(async (queue) => {
        let runs = 0;
        let after = 0;
        await queue.enqueue('malformed', null, { attempts: 5 });
        await queue.enqueue('next', null);
        const handle = queue.process(async (job) => {
          if (job.id === 'next') {
            after++;
            return;
          }
          runs++;
          throw new UnrecoverableJobError('malformed model file');
        });
        await waitFor(() => after === 1, 5_000, 'the next job');
        await sleep(300);
        await handle.close();
        expect(runs).toBe(1);
      }),
    );

    it(
      'cancel removes a waiting job',
      withQueue<null>(async (queue) => {
        const started: string[] = [];
        const hold = gate();
        await queue.enqueue('blocker', null);
        const handle = queue.process(async (job) => {
          started.push(job.id);
          if (job.id === 'blocker') await hold.promise;
        });
        await waitFor(() => started.length === 1, 5_000, 'the blocker');
        await queue.enqueue('victim', null);
        await queue.enqueue('survivor', null);
        expect(await queue.waiting()).toBe(2);
        await queue.cancel('victim');
        expect(await queue.waiting()).toBe(1);
        await queue.cancel('no-such-job');
        hold.open();
        await waitFor(() => started.includes('survivor'), 5_000, 'the survivor');
        await sleep(100);
        await handle.close();
        expect(started).toEqual(['blocker', 'survivor']);
      }),
    );

    it(
      'cancel aborts a running job, which is not retried; the id can be enqueued again later',
      withQueue<null>(async (queue) => {
        const runs: QueuedJob<null>[] = [];
        let stopped = 0;
        await queue.enqueue('long', null, { attempts: 3 });
        const handle = queue.process(async (job) => {
          runs.push(job);
          if (runs.length > 1) return;
          await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve(), { once: true }));
          stopped++;
          throw new Error('stopped: canceled');
        });
        await waitFor(() => runs.length === 1, 5_000, 'the job to start');
        await queue.cancel('long');
        await waitFor(() => stopped === 1, 5_000, 'the handler to stop');
        expect(runs[0]!.signal.aborted).toBe(true);
        await sleep(300);
        expect(runs).toHaveLength(1);
        await waitFor(async () => (await queue.waiting()) === 0, 2_000, 'an empty queue');
        // The canceled job is finished, so its id is free again.
        await waitFor(
          async () => {
            // Check before enqueueing, so a run that already happened is not repeated.
            if (runs.length === 2) return true;
            await queue.enqueue('long', null);
            return false;
          },
          5_000,
          'the re-enqueued job',
        );
        await handle.close();
        expect(runs[1]!.signal.aborted).toBe(false);
      }),
    );

    it(
      'enqueue is idempotent while a job is waiting or running; a finished id runs again',
      withQueue<{ v: number }>(async (queue) => {
        const runs: number[] = [];
        const hold = gate();
        await queue.enqueue('same', { v: 1 });
        await queue.enqueue('same', { v: 2 });
        expect(await queue.waiting()).toBe(1);
        const handle = queue.process(async (job) => {
          runs.push(job.data.v);
          if (runs.length === 1) await hold.promise;
        });
        await waitFor(() => runs.length === 1, 5_000, 'the first run');
        await queue.enqueue('same', { v: 3 });
        expect(await queue.waiting()).toBe(0);
        hold.open();
        await sleep(200);
        expect(runs).toEqual([1]);
        // The job is removed just after its handler returns; retry until the id is free.
        await waitFor(
          async () => {
            if (runs.length === 2) return true;
            await queue.enqueue('same', { v: 4 });
            return false;
          },
          5_000,
          'the second run',
        );
        await handle.close();
        expect(runs).toEqual([1, 4]);
      }),
    );

    it(
      'rejects ids the adapters cannot share (":", integers, empty)',
      withQueue<null>(async (queue) => {
        for (const id of ['', 'a:b', '123', 'has space', '-dash-first', 'x'.repeat(201)]) {
          await expect(queue.enqueue(id, null), id).rejects.toThrow(TypeError);
        }
      }),
    );

    it(
      'progress resolves while running',
      withQueue<null>(async (queue) => {
        let reported = false;
        await queue.enqueue('progress', null);
        const handle = queue.process(async (job) => {
          await job.progress(0.25);
          await job.progress(0.5);
          reported = true;
        });
        await waitFor(() => reported, 5_000, 'progress');
        await handle.close();
      }),
    );

    it(
      'worker close waits for the running job and takes no new ones',
      withQueue<null>(async (queue) => {
        const started: string[] = [];
        let finished = false;
        await queue.enqueue('slow', null);
        const handle = queue.process(async (job) => {
          started.push(job.id);
          await sleep(400);
          finished = true;
        });
        await waitFor(() => started.length === 1, 5_000, 'the slow job');
        await queue.enqueue('after-close', null);
        const t0 = Date.now();
        await handle.close();
        expect(finished).toBe(true);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
        await sleep(100);
        expect(started).toEqual(['slow']);
        expect(await queue.waiting()).toBe(1);
      }),
    );

    it(
      'queue close waits for running jobs',
      async () => {
        const queue = await makeQueue<null>();
        let finished = false;
        let started = false;
        await queue.enqueue('slow', null);
        queue.process(async () => {
          started = true;
          await sleep(300);
          finished = true;
        });
        await waitFor(() => started, 5_000, 'the job');
        await queue.close();
        expect(finished).toBe(true);
      },
    );

    it(
      'an every-ms schedule enqueues one job per tick; upsert is idempotent; remove stops it',
      withQueue<{ template: string }>(async (queue) => {
        const fired: QueuedJob<{ template: string }>[] = [];
        const handle = queue.process(async (job) => {
          fired.push(job);
        });
        await queue.upsertSchedule('nightly', { every: 250 }, { template: 'old' });
        await queue.upsertSchedule('nightly', { every: 250 }, { template: 'fusion-a' });
        const list = await queue.listSchedules();
        expect(list).toHaveLength(1);
        expect(list[0]).toMatchObject({ id: 'nightly', repeat: { every: 250 }, data: { template: 'fusion-a' } });
        expect(list[0]!.next).toBeInstanceOf(Date);
        // Jobs carry the data the schedule had when they were enqueued (BullMQ
        // enqueues the first `every` job at once, with the first upsert's data).
        const current = () => fired.filter((j) => j.data.template === 'fusion-a');
        await waitFor(() => current().length >= 3, 5_000, 'three ticks');
        expect(fired.length - current().length).toBeLessThanOrEqual(1);
        for (const job of fired) expect(job.id).toMatch(/^repeat:nightly:\d+$/);
        const ticks = fired.map((j) => Number(j.id.split(':')[2]));
        expect(new Set(ticks).size).toBe(ticks.length);
        expect(await queue.removeSchedule('nightly')).toBe(true);
        expect(await queue.removeSchedule('nightly')).toBe(false);
        expect(await queue.listSchedules()).toEqual([]);
        await sleep(400);
        const count = fired.length;
        await sleep(600);
        expect(fired.length).toBe(count);
        await handle.close();
      }),
    );

    it(
      'a cron schedule with seconds and a time zone fires; bad patterns and zones are refused',
      withQueue<string>(async (queue) => {
        const fired: string[] = [];
        const handle = queue.process(async (job) => {
          fired.push(job.id);
        });
        await queue.upsertSchedule('every-second', { pattern: '* * * * * *', tz: 'Europe/Berlin' }, 'tick');
        await waitFor(() => fired.length >= 1, 4_000, 'a cron tick');
        expect(fired[0]).toMatch(/^repeat:every-second:\d+000$/);
        await expect(queue.upsertSchedule('bad', { pattern: 'not a cron' }, 'x')).rejects.toThrow(TypeError);
        await expect(queue.upsertSchedule('bad', { pattern: '0 3 * * *', tz: 'Mars/Olympus' }, 'x')).rejects.toThrow(TypeError);
        await expect(queue.upsertSchedule('bad', { every: 0 }, 'x')).rejects.toThrow(TypeError);
        expect((await queue.listSchedules()).map((s) => s.id)).toEqual(['every-second']);
        await queue.removeSchedule('every-second');
        await handle.close();
      }),
    );
  });
}
