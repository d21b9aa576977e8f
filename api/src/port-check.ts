/**
 * `npm start` on a port another process holds: one line that says so and
 * names PORT, before the store, queue and runners start (a failed listen
 * after them left a stack trace, or a process that never exited).
 */
import { createServer } from 'node:net';

/** True when `port` on `host` cannot be listened on because something else holds it. */
export function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(true) : reject(err)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

export function portInUseMessage(host: string, port: number): string {
  return `clafusion API: port ${port} on ${host} is already in use (is another server running?); set PORT to a free port, e.g. PORT=${port + 1} npm start`;
}

export function isAddressInUse(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE';
}
