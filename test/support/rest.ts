/** Raw-HTTP helpers for service tests: what a curl user does, with fetch. */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { expect } from 'vitest';
import { API_ERROR_STATUS, type ApiErrorBody, type CreateFileResult, type FileObject, type FusionJob, type JobEvent } from '../../api/contract/src/index.ts';
import { readSse } from './sse.ts';

export class Rest {
  constructor(
    readonly base: string,
    readonly key: string,
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.key}`, ...extra };
  }

  fetch(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
    const { json, ...rest } = init;
    const headers = this.headers(json === undefined ? {} : { 'content-type': 'application/json' });
    return fetch(`${this.base}${path}`, {
      ...rest,
      headers: { ...headers, ...(rest.headers as Record<string, string> | undefined) },
      body: json === undefined ? rest.body : JSON.stringify(json),
    });
  }

  async json<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
    const res = await this.fetch(path, init);
    const body = await res.json();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path} → ${res.status} ${JSON.stringify(body)}`);
    return body as T;
  }

  /** create → PUT (presigned or through the API) → complete. */
  async upload(path: string, purpose: 'model' | 'dataset'): Promise<FileObject> {
    const { file, upload } = await this.json<CreateFileResult>('/v1/files', {
      method: 'POST',
      json: { name: basename(path), purpose, size: statSync(path).size },
    });
    const put = await fetch(upload.url, {
      method: 'PUT',
      headers: { ...upload.headers, ...(upload.via_api ? this.headers() : {}) },
      body: readFileSync(path),
    });
    if (!put.ok) throw new Error(`PUT ${upload.url} → ${put.status} ${await put.text()}`);
    return this.json<FileObject>(`/v1/files/${file.id}/complete`, { method: 'POST' });
  }

  /** Follows the SSE stream to the end (the terminal event). */
  async streamEvents(jobId: string, lastEventId?: string): Promise<JobEvent[]> {
    const res = await this.fetch(`/v1/fusions/${jobId}/events/stream`, {
      headers: lastEventId ? { 'last-event-id': lastEventId } : {},
    });
    if (!res.ok) throw new Error(`stream → ${res.status} ${await res.text()}`);
    const events: JobEvent[] = [];
    for await (const m of readSse(res)) {
      const event = JSON.parse(m.data) as JobEvent;
      if (m.id !== event.id || m.event !== event.type) throw new Error(`SSE id/event fields disagree with the data: ${JSON.stringify(m)}`);
      events.push(event);
    }
    return events;
  }

  async waitFor(jobId: string, done: (job: FusionJob) => boolean, timeoutMs = 240_000): Promise<FusionJob> {
    const deadline = Date.now() + timeoutMs;
    let status = 'unknown';
    for (;;) {
      const res = await this.fetch(`/v1/fusions/${jobId}`);
      // 503 means "retry later" (the store was briefly unavailable); anything else must be an answer.
      if (res.status !== 503) {
        const job = (await res.json()) as FusionJob;
        if (!res.ok) throw new Error(`GET /v1/fusions/${jobId} → ${res.status} ${JSON.stringify(job)}`);
        if (done(job)) return job;
        status = job.status;
      }
      if (Date.now() > deadline) throw new Error(`fusion ${jobId} is still ${status} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async download(path: string): Promise<Uint8Array> {
    const res = await this.fetch(path);
    if (!res.ok) throw new Error(`GET ${path} → ${res.status} ${await res.text()}`);
    return new Uint8Array(await res.arrayBuffer());
  }
}

/**
 * Asserts the documented error answer: the code's HTTP status and a body that
 * is exactly the error envelope with that code, with no stack trace in it.
 * Returns the error.
 */
export async function expectApiError(res: Response, code: ApiErrorBody['code']): Promise<ApiErrorBody> {
  const text = await res.text();
  expect(res.status, text).toBe(API_ERROR_STATUS[code]);
  const body = JSON.parse(text) as { error: ApiErrorBody };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(text).not.toMatch(/\bat .*\.(ts|js):\d+|stack/);
  return body.error;
}
