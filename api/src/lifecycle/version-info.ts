/**
 * GET /v1/version: the API's version, and the runners that finished a job
 * recently with the backend and engine version they ran (each runner records
 * that for every job it completes, before the job's success is recorded;
 * gpu-runner/src/worker/fusion-runner.ts).
 * `engine_version` is the newest runner's, null while no runner was seen.
 */
import type { RunnerSeen, VersionInfo } from '@clafusion/contract';
import { readJson } from '@clafusion/contract/job-log';
import type { ObjectStore } from '@clafusion/contract/ports';
import { API_VERSION } from '../version.ts';
import { listAll } from './file-lifecycle.ts';
import { lifecycleKeys } from '@clafusion/contract/lifecycle-keys';

/** Runners silent for longer are left out. */
export const RUNNER_SEEN_WITHIN_MS = 24 * 3_600_000;

export async function versionInfo(store: ObjectStore, now = Date.now()): Promise<VersionInfo> {
  const runners: RunnerSeen[] = [];
  for await (const key of listAll(store, lifecycleKeys.runners())) {
    const seen = await readJson<RunnerSeen>(store, key);
    if (seen && now - Date.parse(seen.seen_at) <= RUNNER_SEEN_WITHIN_MS) runners.push(seen);
  }
  runners.sort((a, b) => b.seen_at.localeCompare(a.seen_at));
  return { object: 'version', api_version: API_VERSION, engine_version: runners[0]?.engine_version ?? null, runners };
}
