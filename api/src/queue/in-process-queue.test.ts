import { InProcessQueue } from './in-process-queue.ts';
import { runJobQueueConformance } from './job-queue.conformance.ts';

runJobQueueConformance('InProcessQueue', async <T>() => new InProcessQueue<T>({ backoff: { type: 'fixed', delayMs: 20 } }));
