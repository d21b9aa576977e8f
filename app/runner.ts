/**
 * `npm run runner`: a runner process. It takes jobs from the configured
 * queue (REDIS_URL for BullMQ) and reads/writes the configured store
 * (S3_BUCKET for S3, else DATA_DIR), `RUNNER_CONCURRENCY` at a time. SIGTERM
 * stops taking jobs and waits for the running ones. It lives here, outside
 * both packages, because it wires the API's store/queue adapters into the
 * worker (see app/embedded.ts).
 */
import { createQueue, createStore } from '@clafusion/api/adapters';
import { configFromEnv } from '@clafusion/api/config';
import { startRunner } from '@clafusion/gpu-runner/worker';

const config = configFromEnv();
if (!config.redis) {
  console.error('npm run runner needs REDIS_URL: without Redis the queue lives inside the API process (npm start runs its own runner)');
  process.exit(2);
}
const store = await createStore(config);
const queue = await createQueue(config);
const worker = startRunner(store, queue, { concurrency: config.runnerConcurrency });
// Redis going away does not stop a runner: its connections reconnect and
// BullMQ's errors are logged (queue/bullmq-queue.ts). A job it runs meanwhile
// runs to the end and records its outcome in the store; the API puts jobs
// Redis lost back on the queue (api/src/jobs/recover.ts).
queue.onReconnect?.(() => console.log(`clafusion runner ${process.pid}: Redis is reachable again`));
console.log(`clafusion runner ${process.pid} taking jobs from ${config.redis.queueName} (concurrency ${config.runnerConcurrency})`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    void worker
      .close()
      .then(() => queue.close())
      .then(() => process.exit(0));
  });
}
