/** The embedded service (folder store, in-process queue and runner) started inside a test process. */
import type { ObjectStore } from '../../api/contract/src/ports/index.ts';
import type { FusionQueueData } from '../../api/contract/src/jobs/queue-data.ts';
import { InProcessQueue } from '../../api/src/queue/index.ts';
import { type RunningServer, type ServerOptions, startEmbeddedServer as startServer } from '../../app/embedded.ts';
import { FolderStore } from '../../api/src/storage/index.ts';

export const TEST_UPLOAD_LIMIT = 1024 * 1024;

export async function startEmbedded(root: string, runners = 1, extra: Partial<ServerOptions> = {}): Promise<RunningServer & { store: FolderStore }> {
  return startOnStore(new FolderStore({ root, fsync: false }), runners, extra);
}

/** The embedded service on a store of the test's choosing (an S3 store, a store wrapped to fail on purpose). */
export async function startOnStore<S extends ObjectStore>(store: S, runners = 1, extra: Partial<ServerOptions> = {}): Promise<RunningServer & { store: S }> {
  const queue = new InProcessQueue<FusionQueueData>({ backoff: { type: 'fixed', delayMs: 10 } });
  const server = await startServer({
    store,
    queue,
    host: '127.0.0.1',
    port: 0,
    inProcessRunners: runners,
    requeueOnStart: true,
    maxUploadBytes: TEST_UPLOAD_LIMIT,
    presignSeconds: 600,
    eventPollMs: 50,
    publicUrl: null,
    ...extra,
  });
  return {
    ...server,
    store,
    async close() {
      await server.close();
      await queue.close();
    },
  };
}

/** Every key under `prefix` with its sha256: a fingerprint of what is stored. */
export async function storeFingerprint(store: FolderStore, prefix = ''): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  let after: string | undefined;
  do {
    const page = await store.list(prefix, { after, limit: 1000 });
    for (const o of page.objects) out.set(o.key, o.sha256);
    after = page.next;
  } while (after);
  return out;
}
