/**
 * One webhook POST: resolve and check the host (address-guard.ts), connect
 * to the checked address only (the request's `lookup` answers with it, so
 * TLS still verifies the URL's host name), never follow a redirect (a 3xx
 * is an answer like any other, not a success), and give up after a short
 * time-out. `lookup` and `request` are injectable so tests can prove that
 * nothing is attempted for a refused address.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { BlockedWebhookAddress, type Lookup, resolveTarget } from './address-guard.ts';

export type RequestFn = (url: URL, options: http.RequestOptions) => http.ClientRequest;

export interface SenderOptions {
  allowHosts: readonly string[];
  timeoutMs: number;
  lookup?: Lookup;
  request?: RequestFn;
}

export interface SendResult {
  status: number | null;
  error: string | null;
}

const defaultLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });
const defaultRequest: RequestFn = (url, options) => (url.protocol === 'https:' ? https.request(url, options) : http.request(url, options));

export class WebhookSender {
  private readonly lookup: Lookup;
  private readonly request: RequestFn;

  constructor(private readonly options: SenderOptions) {
    this.lookup = options.lookup ?? defaultLookup;
    this.request = options.request ?? defaultRequest;
  }

  async send(rawUrl: string, headers: Record<string, string>, body: string): Promise<SendResult> {
    let target;
    try {
      target = await resolveTarget(rawUrl, this.lookup, this.options.allowHosts);
    } catch (err) {
      if (err instanceof BlockedWebhookAddress) return { status: null, error: `blocked: ${err.message}` };
      return { status: null, error: `cannot resolve: ${(err as Error).message}` };
    }
    const pinned: LookupFunction = (_hostname, options, callback) => {
      if ((options as { all?: boolean }).all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
      else callback(null, target.address, target.family);
    };
    return new Promise<SendResult>((resolve) => {
      const req = this.request(target.url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'clafusion-webhooks/1' },
        lookup: pinned,
        timeout: this.options.timeoutMs,
        agent: false,
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      req.on('error', (err) => resolve({ status: null, error: err.message }));
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? null, error: null }));
        res.on('error', () => resolve({ status: res.statusCode ?? null, error: null }));
      });
      req.end(body);
    });
  }
}
