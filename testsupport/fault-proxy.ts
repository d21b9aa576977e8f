/**
 * A fault-injecting HTTP reverse proxy for tests (issue #9): it listens on
 * 127.0.0.1 (a free port) in front of one HTTP server (s3rver, radosgw) and
 * forwards every request verbatim — method, path and query, headers
 * including `Host` (the client signed the proxy's host with SigV4, so the
 * header must reach the server unchanged) — streaming bodies both ways.
 *
 * Faults are rules, checked in the order they were added:
 *
 *   const proxy = await FaultProxy.start(s3Endpoint(), { seed: 42 });
 *   const remove = proxy.addRule({ match: { method: 'GET', path: /\/outputs\// }, fault: { kind: 'reset', phase: 'response' }, times: 1 });
 *   const s3 = new S3Client({ endpoint: proxy.url, … });
 *
 * A rule applies to a request when its `match` matches (method, and `path`
 * tested against the request's path+query), it has `times` left (default:
 * unlimited), and a draw from the proxy's seeded RNG is below its
 * `probability` (default 1; the RNG is only drawn for rules with a
 * probability, so runs with the same seed and request order are repeatable).
 * `latency` rules add up (each applying one delays the request and the
 * search goes on); the first other rule that applies decides the request's
 * fate. Faults:
 *
 * - `latency {ms}`: wait before forwarding.
 * - `status {500|503|412|400, code?}`: answer with an S3-style XML error
 *   (InternalError, SlowDown, PreconditionFailed, BadDigest or `code`);
 *   nothing is forwarded.
 * - `reset {phase: 'request'}`: reset the client's connection before forwarding.
 * - `reset {phase: 'response'}`: forward, let the server answer in full
 *   (so it DID apply the request), then reset the client's connection
 *   without sending it any of the answer.
 * - `truncate {afterBytes?}`: forward, send the client the server's status
 *   and headers (Content-Length included) and only the first `afterBytes`
 *   bytes of the body (default: half of it), then close the connection.
 * - `hold`: keep the request, unforwarded, until the test calls `release()`
 *   (forward it) or `drop()` (reset the client's connection) on the handle
 *   that `nextHeld()` resolves to.
 */
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  | { kind: 'latency'; ms: number }
  /** 500/503 by default; 412 (PreconditionFailed) and 400 (BadDigest, or `code`) act out a stricter server's answers. */
  | { kind: 'status'; status: 500 | 503 | 412 | 400; code?: string }
  | { kind: 'reset'; phase: 'request' | 'response' }
  | { kind: 'truncate'; afterBytes?: number }
  | { kind: 'hold' };

export type FaultKind = Fault['kind'];

export interface FaultMatch {
  method?: string;
  /** Tested against the request's path and query, e.g. `/bucket/key?x-id=GetObject`. */
  path?: RegExp;
}

export interface FaultRule {
  match?: FaultMatch;
  fault: Fault;
  /** How many requests this rule may apply to; unlimited when absent. */
  times?: number;
  /** The chance (0..1, seeded RNG) that the rule applies to a matching request; 1 when absent. */
  probability?: number;
}

export interface HeldRequest {
  method: string;
  path: string;
  /** Forward the request to the server (as if it had never been held). */
  release(): void;
  /** Reset the client's connection; the server never sees the request. */
  drop(): void;
}

export interface FaultProxyStats {
  requests: number;
  faults: Record<FaultKind, number>;
}

interface ActiveRule extends FaultRule {
  remaining: number;
}

interface HeldWaiter {
  match: FaultMatch | undefined;
  resolve: (held: HeldRequest) => void;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'expect']);

export class FaultProxy {
  readonly url: string;
  readonly stats: FaultProxyStats = { requests: 0, faults: { latency: 0, status: 0, reset: 0, truncate: 0, hold: 0 } };
  /** The last 1000 requests, oldest first, with the faults applied to each (for assertions and debugging). */
  readonly log: { method: string; path: string; faults: FaultKind[] }[] = [];
  private rules: ActiveRule[] = [];
  private readonly held: HeldRequest[] = [];
  private readonly heldWaiters: HeldWaiter[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly target: URL;
  private readonly agent = new http.Agent({ keepAlive: true });
  private rngState: number;

  private constructor(
    private readonly server: http.Server,
    target: string,
    seed: number,
  ) {
    this.target = new URL(target);
    this.rngState = seed >>> 0;
    const port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Starts a proxy on 127.0.0.1 (a free port) in front of `targetUrl` (e.g. `http://127.0.0.1:4568`). */
  static async start(targetUrl: string, options: { seed?: number } = {}): Promise<FaultProxy> {
    const server = http.createServer();
    // The SDK's keep-alive sockets may sit idle between tests; never time them out under it.
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const proxy = new FaultProxy(server, targetUrl, options.seed ?? 1);
    server.on('connection', (socket: Socket) => {
      proxy.sockets.add(socket);
      socket.once('close', () => proxy.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      proxy.handle(req, res).catch(() => res.socket?.destroy());
    });
    return proxy;
  }

  /** Adds a rule after the existing ones; returns a function that removes it. */
  addRule(rule: FaultRule): () => void {
    if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
      throw new RangeError(`probability must be in [0, 1], got ${rule.probability}`);
    }
    const active: ActiveRule = { ...rule, remaining: rule.times ?? Number.POSITIVE_INFINITY };
    this.rules.push(active);
    return () => {
      this.rules = this.rules.filter((r) => r !== active);
    };
  }

  /** Removes every rule (held requests stay held until released or dropped). */
  clear(): void {
    this.rules = [];
  }

  /** Resolves with the next held request that matches (one already waiting counts), once per held request. */
  nextHeld(match?: FaultMatch): Promise<HeldRequest> {
    const index = this.held.findIndex((h) => matches(match, h.method, h.path));
    if (index >= 0) return Promise.resolve(this.held.splice(index, 1)[0]);
    return new Promise((resolve) => this.heldWaiters.push({ match, resolve }));
  }

  async close(): Promise<void> {
    this.rules = [];
    for (const h of this.held.splice(0)) h.drop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.agent.destroy();
    await closed;
  }

  /** mulberry32: small, fast, good enough to pick faults repeatably. */
  private random(): number {
    this.rngState = (this.rngState + 0x6d2b79f5) >>> 0;
    let t = this.rngState;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    let decided: Fault | undefined;
    const entry = { method, path, faults: [] as FaultKind[] };
    this.log.push(entry);
    if (this.log.length > 1000) this.log.shift();
    for (const rule of [...this.rules]) {
      if (rule.remaining <= 0 || !matches(rule.match, method, path)) continue;
      if (rule.probability !== undefined && !(this.random() < rule.probability)) continue;
      rule.remaining--;
      this.stats.faults[rule.fault.kind]++;
      entry.faults.push(rule.fault.kind);
      if (rule.fault.kind === 'latency') {
        await delay(rule.fault.ms);
        if (req.socket.destroyed) return;
        continue;
      }
      decided = rule.fault;
      break;
    }

    switch (decided?.kind) {
      case undefined:
        return this.forward(req, res, undefined);
      case 'status':
        return answerError(req, res, decided.status, decided.code);
      case 'reset':
        if (decided.phase === 'request') return resetSocket(req.socket);
        return this.forward(req, res, decided);
      case 'truncate':
        return this.forward(req, res, decided);
      case 'hold': {
        let settled = false;
        const handle: HeldRequest = {
          method,
          path,
          release: () => {
            if (settled) return;
            settled = true;
            void this.forward(req, res, undefined);
          },
          drop: () => {
            if (settled) return;
            settled = true;
            resetSocket(req.socket);
          },
        };
        const waiter = this.heldWaiters.findIndex((w) => matches(w.match, method, path));
        if (waiter >= 0) this.heldWaiters.splice(waiter, 1)[0].resolve(handle);
        else this.held.push(handle);
        return;
      }
    }
  }

  private forward(req: IncomingMessage, res: ServerResponse, fault: Fault | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const headers: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (!HOP_BY_HOP.has(req.rawHeaders[i].toLowerCase())) headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
      }
      const upstream = http.request({
        protocol: this.target.protocol,
        hostname: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers,
        agent: this.agent,
        setHost: false,
      });
      // The client went away (or we reset it): stop the upstream exchange too.
      res.once('close', () => {
        if (!res.writableFinished) upstream.destroy();
        resolve();
      });
      upstream.once('error', () => {
        if (!res.headersSent) answerError(req, res, 502);
        else resetSocket(req.socket);
        resolve();
      });
      upstream.once('response', (up) => {
        if (fault?.kind === 'reset') {
          // The server answered: consume all of it, so that it finished
          // applying the request, then never tell the client.
          up.resume();
          up.once('end', () => resetSocket(req.socket));
          up.once('error', () => resetSocket(req.socket));
          return;
        }
        const rawHeaders: string[] = [];
        for (let i = 0; i < up.rawHeaders.length; i += 2) {
          if (!HOP_BY_HOP.has(up.rawHeaders[i].toLowerCase())) rawHeaders.push(up.rawHeaders[i], up.rawHeaders[i + 1]);
        }
        if (fault?.kind === 'truncate') {
          const length = Number(up.headers['content-length']);
          const limit = fault.afterBytes ?? (Number.isFinite(length) ? Math.floor(length / 2) : 16);
          res.writeHead(up.statusCode ?? 502, up.statusMessage, rawHeaders);
          res.flushHeaders();
          let sent = 0;
          const cut = () => {
            up.destroy();
            // FIN after what was sent (so the client surely reads it), then gone.
            req.socket.end();
            setTimeout(() => req.socket.destroy(), 50).unref();
          };
          if (limit <= 0) return cut();
          up.on('data', (chunk: Buffer) => {
            if (sent >= limit) return;
            const part = chunk.subarray(0, limit - sent);
            sent += part.length;
            const full = sent >= limit;
            res.write(part, () => {
              if (full) cut();
            });
          });
          up.once('end', () => {
            if (sent < limit) cut(); // the body was shorter than afterBytes: cut at its end
          });
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.statusMessage, rawHeaders);
        up.pipe(res);
        up.once('error', () => resetSocket(req.socket));
      });
      req.pipe(upstream);
      req.once('error', () => upstream.destroy());
    });
  }
}

function matches(match: FaultMatch | undefined, method: string, path: string): boolean {
  if (match === undefined) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== method.toUpperCase()) return false;
  if (match.path !== undefined) {
    match.path.lastIndex = 0; // a /g or /y regex must not carry state between requests
    if (!match.path.test(path)) return false;
  }
  return true;
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  // An RST, like a crashed or unplugged server; older Nodes only have destroy().
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

const STATUS_CODES: Record<number, [code: string, message: string]> = {
  400: ['BadDigest', 'The Content-MD5 you specified did not match what we received.'],
  412: ['PreconditionFailed', 'At least one of the pre-conditions you specified did not hold'],
  500: ['InternalError', 'We encountered an internal error. Please try again.'],
  502: ['BadGateway', 'The fault proxy could not reach the server.'],
  503: ['SlowDown', 'Please reduce your request rate.'],
};

/** An S3-style error answer, after draining the request body (so the connection stays usable). */
function answerError(req: IncomingMessage, res: ServerResponse, status: number, codeOverride?: string): void {
  const [defaultCode, message] = STATUS_CODES[status] ?? ['InternalError', 'Injected fault'];
  const code = codeOverride ?? defaultCode;
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<Resource>${escapeXml(req.url ?? '/')}</Resource><RequestId>fault-proxy</RequestId></Error>`;
  const send = () => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': 'fault-proxy' });
    res.end(body);
  };
  if (req.complete) return send();
  req.resume();
  req.once('end', send);
  req.once('error', () => res.destroy());
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
