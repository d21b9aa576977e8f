/** client.lineages: register model files as numbered versions, read and list lineages and versions, delete. */
import type { HttpClient } from '../core/http.ts';
import { PagedList } from '../core/pagination.ts';
import type { Lineage, ListPage, ModelVersion } from '../core/types.ts';

const path = (name: string) => `/v1/lineages/${encodeURIComponent(name)}`;

export class Lineages {
  constructor(private readonly http: HttpClient) {}

  /** Registers a ready model file as the lineage's next version (the lineage is created on first use). */
  register(name: string, fileId: string): Promise<ModelVersion> {
    return this.http.json({ method: 'POST', path: `${path(name)}/versions`, json: { file: fileId } });
  }

  retrieve(name: string): Promise<Lineage> {
    return this.http.json({ method: 'GET', path: path(name) });
  }

  /** By name; await it for one page or iterate it for all. */
  list(params: { limit?: number } = {}): PagedList<Lineage> {
    return new PagedList((after) => this.http.json<ListPage<Lineage>>({ method: 'GET', path: '/v1/lineages', query: { limit: params.limit, after } }));
  }

  /** Newest first. */
  versions(name: string, params: { limit?: number } = {}): PagedList<ModelVersion> {
    return new PagedList((after) =>
      this.http.json<ListPage<ModelVersion>>({ method: 'GET', path: `${path(name)}/versions`, query: { limit: params.limit, after } }),
    );
  }

  version(name: string, version: number | 'latest'): Promise<ModelVersion> {
    return this.http.json({ method: 'GET', path: `${path(name)}/versions/${version}` });
  }

  delete(name: string): Promise<{ object: 'lineage'; name: string; deleted: true }> {
    return this.http.json({ method: 'DELETE', path: path(name) });
  }
}
