/**
 * The API process: the API (and, on the embedded default, an in-process
 * runner) on the configured port. Prints the URL and, with the local folder
 * store, a development API key kept in `<DATA_DIR>/dev-api-key` across
 * restarts. `npm start` runs it with the runner wired in (app/start.ts);
 * run on its own (the API image's bundle) it has none and needs RUNNERS=0.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createQueue, createStore, createTickQueue } from './adapters.ts';
import { authenticate, createApiKey } from './auth/api-keys.ts';
import { configFromEnv } from './config.ts';
import type { ObjectStore } from '@clafusion/contract/ports';
import { isAddressInUse, portInUse, portInUseMessage } from './port-check.ts';
import { type RunnerFactory, startServer } from './server.ts';

async function developmentKey(store: ObjectStore, dataDir: string): Promise<string> {
  const path = join(dataDir, 'dev-api-key');
  if (existsSync(path)) {
    const saved = readFileSync(path, 'utf8').trim();
    if ((await authenticate(store, `Bearer ${saved}`)) !== null) return saved;
  }
  const { token } = await createApiKey(store, 'dev', 'development key made by npm start');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}

/** Starts the API process; `runner` runs jobs in it when RUNNERS is above zero. */
export async function runApiProcess(runner?: RunnerFactory): Promise<void> {
  const config = configFromEnv();
  // A busy port is said in one line, before the store, queue and runners start (PORT 0 is never busy).
  if (config.port !== 0 && (await portInUse(config.host, config.port))) {
    console.error(portInUseMessage(config.host, config.port));
    process.exit(1);
  }
  const store = await createStore(config);
  const queue = await createQueue(config);
  const ticks = await createTickQueue(config);
  // Reconcile on start with either queue: the embedded one forgot everything, and
  // a Redis may have come back empty while no API ran (see jobs/recover.ts).
  const server = await startServer({ ...config, store, queue, ticks, requeueOnStart: true, runner }).catch((err: unknown) => {
    // Taken between the check above and the listen.
    if (!isAddressInUse(err)) throw err;
    console.error(portInUseMessage(config.host, config.port));
    process.exit(1);
  });
  console.log(`clafusion API listening on ${server.url}`);
  console.log(`  store: ${config.s3 ? `s3://${config.s3.bucket}` : config.dataDir}  queue: ${config.redis ? 'redis' : 'in-process'}  in-process runners: ${config.inProcessRunners}`);
  if (!config.s3) console.log(`  development API key (tenant "dev"): ${await developmentKey(store, config.dataDir)}`);
  console.log(`  OpenAPI: ${server.url}/v1/openapi.json`);

  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      void server
        .close()
        .then(() => Promise.all([queue.close(), ticks.close()]))
        .then(() => process.exit(0));
    });
  }
}

// Run directly (`node --import tsx api/src/main.ts`, or the bundle built from it): no in-process runner.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await runApiProcess();
