/** createClient({ baseUrl, apiKey }): the typed client for the fusion API. */
import { type ClientOptions, HttpClient } from './core/http.ts';
import { Files } from './resources/files.ts';
import { Fusions } from './resources/fusions.ts';
import { Lineages } from './resources/lineages.ts';
import { Schedules } from './resources/schedules.ts';
import { Webhooks } from './resources/webhooks.ts';
import type { VersionInfo } from './core/types.ts';

export interface Client {
  files: Files;
  fusions: Fusions;
  lineages: Lineages;
  schedules: Schedules;
  webhooks: Webhooks;
  /** API and engine versions, and the runners seen recently with their backend. */
  version(): Promise<VersionInfo>;
}

export function createClient(options: ClientOptions): Client {
  const http = new HttpClient(options);
  return {
    files: new Files(http),
    fusions: new Fusions(http),
    lineages: new Lineages(http),
    schedules: new Schedules(http),
    webhooks: new Webhooks(http),
    version: () => http.json({ method: 'GET', path: '/v1/version' }),
  };
}
