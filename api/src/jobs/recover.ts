/**
 * The embedded queue lives in memory, so after a restart the jobs that were
 * queued or running are only known to the store. This puts them back on the
 * queue; the runner skips any that finished in the meantime. (BullMQ keeps
 * its jobs in Redis and needs none of this.)
 */
import type { JobQueue, ObjectStore } from '../ports/index.ts';
import { layout } from '../store-layout.ts';
import { readJson } from './job-log.ts';
import { type FusionQueueData, JOB_ATTEMPTS } from './queue-data.ts';

export async function requeueUnfinishedJobs(store: ObjectStore, queue: JobQueue<FusionQueueData>): Promise<number> {
  let count = 0;
  let after: string | undefined;
  do {
    const page = await store.list(layout.activeJobs(), { after, limit: 1000 });
    for (const o of page.objects) {
      const jobId = o.key.slice(o.key.lastIndexOf('/') + 1);
      const entry = await readJson<{ tenant: string }>(store, o.key);
      if (!entry) continue;
      await queue.enqueue(jobId, { tenant: entry.tenant, job_id: jobId }, { attempts: JOB_ATTEMPTS });
      count++;
    }
    after = page.next;
  } while (after);
  return count;
}
