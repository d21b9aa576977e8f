/**
 * Requests to the API: bearer auth, JSON in and out, typed errors, and
 * retries with exponential backoff (and jitter) on connection failures, 429
 * and 5xx. A retried request is sent again byte for byte, Idempotency-Key
 * included, so a create that reached the server before the connection broke
 * is answered with the job it made rather than making a second one.
 */
import { randomUUID } from 'node:crypto';
import { ConnectionError, errorFor } from './errors.ts';
import type { ApiErrorBody } from './types.ts';

export interface ClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Retries after the first attempt (default 2). */
  maxRetries?: number;
  /** First backoff in ms, doubled per retry (default 500). */
  retryDelayMs?: number;
  fetch?: typeof fetch;
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: RequestInit['body'];
  headers?: Record<string, string>;
  /** Sent as Idempotency-Key on every attempt. */
  idempotencyKey?: string;
  /** Whether the request may be sent again (bodies from streams cannot). Default true. */
  retry?: boolean;
  signal?: AbortSignal;
}

const RETRY_STATUS = (status: number) => status === 429 || status >= 500;

export class HttpClient {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly maxRetries: number;
  private readonly retryDelayMs: number;
  readonly fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.maxRetries = options.maxRetries ?? 2;
    this.retryDelayMs = options.retryDelayMs ?? 500;
    // Called as a method of this client: browsers refuse a bare `fetch` whose `this` is not the window ("Illegal invocation").
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.apiKey}` };
  }

  newIdempotencyKey(): string {
    return randomUUID();
  }

  url(path: string, query: RequestOptions['query'] = {}): string {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** Sends the request (retrying as above) and returns the successful response. */
  async send(options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { ...this.authHeaders(), ...options.headers };
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const body = options.json !== undefined ? JSON.stringify(options.json) : options.body;
    const retries = options.retry === false ? 0 : this.maxRetries;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetch(this.url(options.path, options.query), {
          method: options.method,
          headers,
          body,
          signal: options.signal,
          ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        } as RequestInit);
      } catch (err) {
        if (options.signal?.aborted || attempt >= retries) {
          throw new ConnectionError(`${options.method} ${options.path}: ${(err as Error).message}`, { cause: err });
        }
        await this.backoff(attempt, null);
        continue;
      }
      if (response.ok) return response;
      if (RETRY_STATUS(response.status) && attempt < retries) {
        await response.body?.cancel();
        await this.backoff(attempt, response.headers.get('retry-after'));
        continue;
      }
      throw await this.errorFrom(response, options);
    }
  }

  async json<T>(options: RequestOptions): Promise<T> {
    return (await (await this.send(options)).json()) as T;
  }

  async errorFrom(response: Response, options: Pick<RequestOptions, 'method' | 'path'>) {
    let body: Partial<ApiErrorBody> | null = null;
    try {
      body = ((await response.json()) as { error?: ApiErrorBody }).error ?? null;
    } catch {
      body = null;
    }
    return errorFor(response.status, body, `${options.method} ${options.path} failed with status ${response.status}`);
  }

  private async backoff(attempt: number, retryAfter: string | null): Promise<void> {
    const fromHeader = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : null;
    const exponential = this.retryDelayMs * 2 ** attempt;
    const delay = fromHeader ?? exponential * (0.75 + Math.random() * 0.5);
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, 30_000)));
  }
}
