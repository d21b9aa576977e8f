/**
 * A runner process for bullmq-queue.test.ts: takes one job, reports it to the
 * parent over IPC, and then hangs until the test SIGKILLs it mid-job.
 * Usage: node --import tsx bullmq-crash-worker.fixture.ts <redisUrl> <queueName>
 */
import { BullMqQueue } from './bullmq-queue.ts';

const [redisUrl, name] = process.argv.slice(2);
if (!redisUrl || !name || !process.send) throw new Error('usage: <redisUrl> <queueName>, started with an IPC channel');
const send = process.send.bind(process);

const queue = new BullMqQueue({ name, redisUrl, lockDurationMs: 1000, stalledIntervalMs: 500 });
queue.process(async (job) => {
  send({ started: job.id, attempt: job.attempt });
  // Hang "mid-job" (the worker keeps renewing the lock meanwhile) until killed.
  await new Promise(() => undefined);
});
send({ ready: true });
// If the parent test dies, do not linger.
process.on('disconnect', () => process.exit(0));
