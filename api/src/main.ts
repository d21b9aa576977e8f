/**
 * `npm start`: the API (and, on the embedded default, an in-process runner)
 * on the configured port. Prints the URL and, with the local folder store, a
 * development API key kept in `<DATA_DIR>/dev-api-key` across restarts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromEnv } from './config.ts';
import type { ObjectStore } from './ports/index.ts';
import { isAddressInUse, portInUse, portInUseMessage } from './port-check.ts';

const config = configFromEnv();
// PORT 0 asks the system for a free port, which is never in use.
if (config.port !== 0 && (await portInUse(config.host, config.port))) {
  console.error(portInUseMessage(config.host, config.port));
  process.exit(1);
}
// Imported after the port check: loading the service takes seconds, and a busy port is said at once.
const [{ createQueue, createStore, createTickQueue }, { authenticate, createApiKey }, { startServer }] = await Promise.all([
  import('./adapters.ts'),
  import('./auth/api-keys.ts'),
  import('./server.ts'),
]);

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

const store = await createStore(config);
const queue = await createQueue(config);
const ticks = await createTickQueue(config);
// Reconcile on start with either queue: the embedded one forgot everything, and
// a Redis may have come back empty while no API ran (see jobs/recover.ts).
const server = await startServer({ ...config, store, queue, ticks, requeueOnStart: true }).catch((err: unknown) => {
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
