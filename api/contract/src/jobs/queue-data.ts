/** What travels through the queue: ids only. Inputs and outputs stay in the object store. */
export interface FusionQueueData {
  tenant: string;
  job_id: string;
}

/** Attempts per job: the first run plus retries after infrastructure errors (a crashed runner's stall recovery does not count). */
export const JOB_ATTEMPTS = 3;
