/** client.schedules: scheduled fusion (cron or every N seconds) publishing to an output lineage; pause, resume, delete, runs. */
import type { HttpClient } from '../core/http.ts';
import { PagedList } from '../core/pagination.ts';
import type { CreateScheduleInput, ListPage, ScheduleRun, ScheduleWithRuns as Schedule, UpdateScheduleInput } from '../core/types.ts';

const path = (id: string) => `/v1/schedules/${encodeURIComponent(id)}`;

export class Schedules {
  constructor(private readonly http: HttpClient) {}

  create(input: CreateScheduleInput): Promise<Schedule> {
    return this.http.json({ method: 'POST', path: '/v1/schedules', json: input });
  }

  retrieve(id: string): Promise<Schedule> {
    return this.http.json({ method: 'GET', path: path(id) });
  }

  /** Newest first; await it for one page or iterate it for all. */
  list(params: { limit?: number } = {}): PagedList<Schedule> {
    return new PagedList((after) => this.http.json<ListPage<Schedule>>({ method: 'GET', path: '/v1/schedules', query: { limit: params.limit, after } }));
  }

  /** Changes only the fields given; takes effect from the next tick. */
  update(id: string, changes: Omit<UpdateScheduleInput, 'id'>): Promise<Schedule> {
    return this.http.json({ method: 'PATCH', path: path(id), json: changes });
  }

  pause(id: string): Promise<Schedule> {
    return this.http.json({ method: 'POST', path: `${path(id)}/pause`, json: {} });
  }

  resume(id: string): Promise<Schedule> {
    return this.http.json({ method: 'POST', path: `${path(id)}/resume`, json: {} });
  }

  delete(id: string): Promise<{ id: string; object: 'schedule'; deleted: true }> {
    return this.http.json({ method: 'DELETE', path: path(id) });
  }

  /** The runs the schedule produced, newest first, with their job ids, outcomes and published versions. */
  runs(id: string, params: { limit?: number } = {}): PagedList<ScheduleRun> {
    return new PagedList((after) => this.http.json<ListPage<ScheduleRun>>({ method: 'GET', path: `${path(id)}/runs`, query: { limit: params.limit, after } }));
  }
}
