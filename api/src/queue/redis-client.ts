import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { closeHandler } from 'ioredis/built/redis/event_handler.js';

/**
 * An ioredis client whose `disconnect()` always ends it, for the queue's
 * connections.
 *
 * ioredis 6.0 has a gap (redis/ioredis#1247; the fix is proposed upstream in
 * redis/ioredis#2169): a client disconnected while it waits out a reconnect
 * backoff (status 'reconnecting', socket already gone) clears its reconnect
 * timer and then waits for a socket 'close' that never comes. It stays
 * 'reconnecting' for ever, never emits 'end', and the commands in its
 * offline queue are never settled. After a Redis restart BullMQ's worker
 * close waits for exactly that 'end' on its blocking connection, and hangs.
 *
 * Here such a disconnect runs ioredis' own close handling at once, as the
 * upstream fix does: status 'end', the 'end' event, and the stranded commands
 * rejected with ioredis' "Connection is closed." error. Duplicates (BullMQ
 * duplicates the worker connection for its blocking fetch) get the same fix.
 * It is patched onto the instance rather than subclassed so the client keeps
 * ioredis' own (generic) type.
 */
export function createRedis(url: string, options: RedisOptions): Redis {
  return closable(new Redis(url, options));
}

function closable(client: Redis): Redis {
  const disconnect = client.disconnect.bind(client);
  client.disconnect = (reconnect = false) => {
    const stranded = !reconnect && client.status === 'reconnecting';
    disconnect(reconnect);
    if (stranded && client.status === 'reconnecting') closeHandler(client)();
  };
  const duplicate = client.duplicate.bind(client);
  client.duplicate = ((override?: Partial<RedisOptions>) => closable(duplicate(override))) as Redis['duplicate'];
  return client;
}

/**
 * Ends a client politely (QUIT, so replies in flight arrive) when Redis
 * answers within `timeoutMs`, and at once otherwise: while Redis is away a
 * QUIT behind queued commands would wait for Redis to come back.
 */
export async function closeRedis(client: Redis, timeoutMs = 2_000): Promise<void> {
  if (client.status === 'end') return;
  const stop = new AbortController();
  const quit = client.quit().then(
    () => true,
    () => true,
  );
  const late = sleep(timeoutMs, false, { signal: stop.signal }).catch(() => true);
  const done = await Promise.race([quit, late]);
  stop.abort();
  if (!done) client.disconnect();
}
