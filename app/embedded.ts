/**
 * The composition root of the embedded service: the API's server with the
 * runner from gpu-runner injected as its in-process runner. The API and the
 * runner are packages that do not know each other (the API takes a
 * `RunnerFactory`; the worker takes the store and queue ports); this folder is
 * the one place, outside both, that sees both and wires them together for
 * the processes that host them (`npm start`: app/start.ts; `npm run runner`:
 * app/runner.ts) and for the tests that start an embedded server.
 */
import { type RunningServer, type ServerOptions, startServer } from '@clafusion/api/server';
import { startRunner } from '@clafusion/gpu-runner/worker';

export type { RunningServer, ServerOptions };

/** `startServer` with this repository's runner as the in-process runner (unless `options.runner` names another). */
export function startEmbeddedServer(options: ServerOptions): Promise<RunningServer> {
  return startServer({ runner: startRunner, ...options });
}
