import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../storage/index.ts';
import { layout } from '@clafusion/contract/store-layout';
import { JobLog, toJson } from '@clafusion/contract/job-log';
import { type JobRecord, isTerminal } from '@clafusion/contract/job-state';

const dir = mkdtempSync(join(tmpdir(), 'job-log-'));
const store = new FolderStore({ root: dir, fsync: false });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function newLog(): Promise<JobLog> {
  const id = `fus_${String(n++).padStart(25, '0')}`;
  const ref = { file: 'file_0000000000000000000000000', name: 'a', sha256: null };
  const record: JobRecord = {
    id,
    tenant: 't',
    created_at: new Date(0).toISOString(),
    spec: { models: [ref.file, ref.file], calibration: { file: ref.file } },
    inputs: { models: [ref, ref], calibration: ref, evaluation: null },
  };
  await store.put(layout.jobRecord('t', id), toJson(record));
  const log = new JobLog(store, 't', id);
  await log.append({ type: 'queued', message: 'queued' });
  return log;
}

describe('JobLog', () => {
  it('folds events into the job: running, progress (never backwards), success with outputs', async () => {
    const log = await newLog();
    await log.append({ type: 'running', message: 'go', data: { attempt: 1 } });
    await log.append({ type: 'progress', stage: 'fusion', progress: 0.6, message: 'p' });
    await log.append({ type: 'progress', stage: 'fusion', progress: 0.4, message: 'late' });
    const { job } = (await log.state())!;
    expect(job).toMatchObject({ status: 'running', stage: 'fusion', progress: 0.6, attempts: 1 });
    const outputs = [{ name: 'report.json', size: 2, sha256: 'x', content_type: 'application/json' }];
    await log.append({ type: 'succeeded', message: 'ok', data: { outputs } });
    expect((await log.state())!.job).toMatchObject({ status: 'succeeded', progress: 1, outputs });
  });

  it('gives racing appends distinct, contiguous sequence numbers', async () => {
    const log = await newLog();
    const writers = Array.from({ length: 8 }, () => new JobLog(store, 't', log.jobId));
    await Promise.all(writers.map((w, i) => w.append({ type: 'progress', progress: i / 10, message: `w${i}` })));
    const events = await log.events(0, 100);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(events.slice(1).map((e) => e.message)).size).toBe(8);
  });

  it('records one terminal event when two runners finish the same job', async () => {
    const log = await newLog();
    await log.append({ type: 'running', message: 'a' });
    const finish = (w: JobLog) => w.append({ type: 'succeeded', message: 'done' }, (j) => !isTerminal(j));
    const results = await Promise.all([finish(new JobLog(store, 't', log.jobId)), finish(new JobLog(store, 't', log.jobId))]);
    expect(results.filter((r) => r.event !== null)).toHaveLength(1);
    expect((await log.events(0, 100)).filter((e) => e.type === 'succeeded')).toHaveLength(1);
  });

  it('stays right when a stale snapshot overwrites a newer one', async () => {
    const log = await newLog();
    await log.append({ type: 'running', message: 'a' });
    const stale = await store.getBytes(layout.jobSnapshot('t', log.jobId));
    await log.append({ type: 'canceled', message: 'stop' });
    await store.put(layout.jobSnapshot('t', log.jobId), stale);
    expect((await log.state())!.job.status).toBe('canceled');
  });
});
