export { InProcessQueue, type InProcessQueueOptions } from './in-process-queue.ts';
export { BullMqQueue, type BullMqQueueOptions } from './bullmq-queue.ts';
export { backoffDelay, type Backoff } from './backoff.ts';
export { checkJobId } from './job-id.ts';
export { nextTick, scheduledJobId, validateRepeat } from './schedule.ts';
