/**
 * createRedis' clients against a port where no Redis listens (the state a client is
 * in between reconnect attempts after Redis died): disconnect ends it and
 * settles what it had queued. Plain ioredis 6.0 is checked alongside, so the
 * test notices when upstream fixes the gap and the patch can go.
 */
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../testsupport/free-port.ts';
import { waitFor } from './job-queue.conformance.ts';
import { closeRedis, createRedis } from './redis-client.ts';

const opened: Redis[] = [];
afterEach(() => {
  for (const client of opened.splice(0)) {
    client.removeAllListeners();
    // Through the base class: the plain client must not hang the run either.
    Redis.prototype.disconnect.call(client);
  }
});

/** A client (of the given class) in its reconnect backoff, with one command queued offline. */
async function strandedClient(make: (url: string) => Redis) {
  const client = make(`redis://127.0.0.1:${await freePort()}`);
  opened.push(client);
  client.on('error', () => undefined);
  await waitFor(() => client.status === 'reconnecting', 10_000, 'the client to be between reconnect attempts');
  const queued = client.get('k').then(
    () => 'answered',
    (e: Error) => e.message,
  );
  return { client, queued };
}

const options = { maxRetriesPerRequest: null, retryStrategy: () => 5_000 };

describe('createRedis', () => {
  it('ends at once when disconnected between reconnect attempts, rejecting its queued commands', async () => {
    const { client, queued } = await strandedClient((url) => createRedis(url, options));
    const ended = once(client, 'end');
    client.disconnect();
    await ended;
    expect(client.status).toBe('end');
    expect(await queued).toBe('Connection is closed.');
  });

  it('duplicates (how BullMQ makes its blocking connection) keep the options and the fix', async () => {
    const { client } = await strandedClient((url) => createRedis(url, options));
    const copy = client.duplicate({ connectionName: 'copy' });
    opened.push(copy);
    copy.on('error', () => undefined);
    expect(copy.options.port).toBe(client.options.port);
    expect(copy.options.maxRetriesPerRequest).toBeNull();
    expect(copy.options.connectionName).toBe('copy');
    await waitFor(() => copy.status === 'reconnecting', 10_000, 'the copy to be between reconnect attempts');
    const ended = once(copy, 'end');
    copy.disconnect();
    await ended;
  });

  it('closeRedis ends a client whose Redis is away without waiting for it', async () => {
    const { client, queued } = await strandedClient((url) => createRedis(url, options));
    await closeRedis(client, 200);
    expect(client.status).toBe('end');
    expect(await queued).toBe('Connection is closed.');
  });

  it('(plain ioredis 6.0 stays reconnecting for ever: the gap createRedis closes)', async () => {
    const { client, queued } = await strandedClient((url) => new Redis(url, options));
    let ended = false;
    client.on('end', () => (ended = true));
    client.disconnect();
    let settled = false;
    void queued.then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // If this starts failing, ioredis fixed redis/ioredis#1247 and the patch in redis-client.ts can go.
    expect({ status: client.status, ended, settled }).toEqual({ status: 'reconnecting', ended: false, settled: false });
  });
});
