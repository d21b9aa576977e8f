import { once } from 'node:events';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { FaultProxy } from './fault-proxy.ts';
import { s3Endpoint, s3rverClientConfig, uniqueName } from './servers.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const DATA = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));

let origin: http.Server;
let originUrl: string;
const seen: Seen[] = [];
let proxy: FaultProxy;

beforeAll(async () => {
  origin = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
    if (req.method === 'GET' && req.url?.startsWith('/data')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': DATA.length, 'x-echo-host': req.headers.host ?? '' });
      res.end(DATA);
      return;
    }
    if (req.method === 'GET' && req.url?.startsWith('/chunked')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: chunked
      res.write(DATA.subarray(0, 5000));
      res.end(DATA.subarray(5000));
      return;
    }
    const answer = Buffer.from(`stored ${Buffer.concat(chunks).length}`);
    res.writeHead(200, { 'content-length': answer.length, etag: '"abc"' });
    res.end(answer);
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  proxy = await FaultProxy.start(originUrl, { seed: 7 });
});

afterEach(() => {
  proxy.clear();
  seen.length = 0;
});

afterAll(async () => {
  await proxy.close();
  origin.closeAllConnections();
  await new Promise((r) => origin.close(r));
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One plain node:http exchange (no keep-alive); rejects with the request's or the body's error. */
function request(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${proxy.url}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

/** Like request(), but reports how a GET body ended: cleanly, or with which error, and how many bytes came. */
function getBodyOutcome(path: string): Promise<{ status: number; contentLength: string | undefined; received: number; error?: string; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${proxy.url}${path}`, { agent: false }, (res) => {
      let received = 0;
      let ended = false;
      let error: string | undefined;
      res.on('data', (c: Buffer) => (received += c.length));
      res.once('end', () => (ended = true));
      res.once('error', (e: NodeJS.ErrnoException) => (error = `${e.code ?? ''} ${e.message}`));
      res.once('close', () => resolve({ status: res.statusCode ?? 0, contentLength: res.headers['content-length'], received, error, ended }));
    });
    req.once('error', reject);
  });
}

describe('FaultProxy', () => {
  it('forwards method, path, query, Host and bodies verbatim, and counts requests', async () => {
    const before = proxy.stats.requests;
    const put = await request('PUT', '/bucket/some%20key?x-id=PutObject&a=1', DATA, { 'x-amz-meta-sha256': 'abc', 'content-type': 'text/plain' });
    expect(put.status).toBe(200);
    expect(put.body.toString()).toBe(`stored ${DATA.length}`);
    expect(put.headers.etag).toBe('"abc"');
    expect(seen[0].method).toBe('PUT');
    expect(seen[0].url).toBe('/bucket/some%20key?x-id=PutObject&a=1');
    // The client's Host (the proxy's address, which SigV4 signed) reaches the server unchanged.
    expect(seen[0].headers.host).toBe(new URL(proxy.url).host);
    expect(seen[0].headers['x-amz-meta-sha256']).toBe('abc');
    expect(seen[0].body.equals(DATA)).toBe(true);

    const get = await request('GET', '/data');
    expect(get.status).toBe(200);
    expect(get.body.equals(DATA)).toBe(true);
    const chunked = await request('GET', '/chunked');
    expect(chunked.body.equals(DATA)).toBe(true);
    expect(proxy.stats.requests - before).toBe(3);
  });

  it('latency: the request is delayed, then forwarded intact', async () => {
    const before = proxy.stats.faults.latency;
    proxy.addRule({ match: { path: /^\/slow/ }, fault: { kind: 'latency', ms: 200 } });
    // The slow request starts first but reaches the server after the fast one (ordering, not timing).
    const slow = request('PUT', '/slow', Buffer.from('a'));
    const fast = await request('PUT', '/fast', Buffer.from('b'));
    expect(fast.status).toBe(200);
    expect((await slow).status).toBe(200);
    expect(seen.map((s) => s.url)).toEqual(['/fast', '/slow']);
    expect(proxy.stats.faults.latency - before).toBe(1);
  });

  it('status: answers with an S3-style XML error and forwards nothing', async () => {
    proxy.addRule({ match: { method: 'PUT' }, fault: { kind: 'status', status: 503 } });
    const reply = await request('PUT', '/bucket/key', DATA);
    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toBe('application/xml');
    expect(reply.body.toString()).toContain('<Code>SlowDown</Code>');
    proxy.clear();
    proxy.addRule({ fault: { kind: 'status', status: 500 } });
    const reply500 = await request('GET', '/data');
    expect(reply500.status).toBe(500);
    expect(reply500.body.toString()).toContain('<Code>InternalError</Code>');
    expect(seen).toEqual([]);
  });

  it('reset (request phase): the client sees a reset and the server never sees the request', async () => {
    proxy.addRule({ fault: { kind: 'reset', phase: 'request' } });
    await expect(request('PUT', '/bucket/key', DATA)).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|EPIPE/) });
    expect(seen).toEqual([]);
  });

  it('reset (response phase): the server applied the request, the client never gets the answer', async () => {
    proxy.addRule({ fault: { kind: 'reset', phase: 'response' } });
    await expect(request('PUT', '/bucket/key', DATA)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(seen).toHaveLength(1);
    expect(seen[0].body.equals(DATA)).toBe(true);
  });

  it('truncate: the full Content-Length is announced, part of the body comes, then the connection ends', async () => {
    proxy.addRule({ fault: { kind: 'truncate', afterBytes: 1234 } });
    const cut = await getBodyOutcome('/data');
    expect(cut.status).toBe(200);
    expect(cut.contentLength).toBe(String(DATA.length));
    expect(cut.received).toBe(1234);
    // What Node 20's http client does with a body shorter than its Content-Length:
    // the response stream errors ('aborted', ECONNRESET) and never emits 'end'.
    expect(cut.ended).toBe(false);
    expect(cut.error).toMatch(/ECONNRESET aborted/);

    proxy.clear();
    proxy.addRule({ fault: { kind: 'truncate' } });
    const half = await getBodyOutcome('/data');
    expect(half.received).toBe(DATA.length / 2);
    expect(half.ended).toBe(false);

    proxy.clear();
    proxy.addRule({ fault: { kind: 'truncate', afterBytes: 100 } });
    const chunked = await getBodyOutcome('/chunked');
    expect(chunked.received).toBe(100);
    expect(chunked.ended).toBe(false);
    expect(chunked.error).toBeDefined();
    // fetch (undici) also fails rather than returning a short body.
    proxy.clear();
    proxy.addRule({ fault: { kind: 'truncate', afterBytes: 10 } });
    const res = await fetch(`${proxy.url}/data`);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('hold: nextHeld() hands out the request; release() forwards it, drop() resets it', async () => {
    const before = proxy.stats.faults.hold;
    proxy.addRule({ match: { method: 'PUT', path: /\/outputs\// }, fault: { kind: 'hold' } });
    const waiting = proxy.nextHeld({ path: /\/outputs\/a/ });
    const first = request('PUT', '/jobs/outputs/a', Buffer.from('first'));
    const held = await waiting;
    expect(held).toMatchObject({ method: 'PUT', path: '/jobs/outputs/a' });
    expect(seen).toEqual([]);
    held.release();
    expect((await first).body.toString()).toBe('stored 5');
    expect(seen.map((s) => s.body.toString())).toEqual(['first']);

    // A request held before anyone asked is handed to the next nextHeld() call.
    const second = request('PUT', '/jobs/outputs/b', Buffer.from('second'));
    const secondOutcome = second.then(
      () => 'answered',
      (e: NodeJS.ErrnoException) => e.code,
    );
    const heldB = await proxy.nextHeld();
    expect(heldB.path).toBe('/jobs/outputs/b');
    heldB.drop();
    expect(await secondOutcome).toBe('ECONNRESET');
    expect(seen).toHaveLength(1);
    expect(proxy.stats.faults.hold - before).toBe(2);
  });

  it('times, probability (seeded, repeatable), removers and clear()', async () => {
    const remove = proxy.addRule({ match: { path: /^\/data/ }, fault: { kind: 'status', status: 500 }, times: 2 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await request('GET', '/data')).status);
    expect(statuses).toEqual([500, 500, 200, 200]);
    remove();

    const pattern = async (seed: number): Promise<number[]> => {
      const p = await FaultProxy.start(originUrl, { seed });
      try {
        p.addRule({ fault: { kind: 'status', status: 503 }, probability: 0.5 });
        const out: number[] = [];
        for (let i = 0; i < 24; i++) {
          const r = await fetch(`${p.url}/data?i=${i}`);
          await r.arrayBuffer();
          out.push(r.status);
        }
        return out;
      } finally {
        await p.close();
      }
    };
    const a = await pattern(99);
    expect(await pattern(99)).toEqual(a);
    expect(a).toContain(503);
    expect(a).toContain(200);
    expect(await pattern(100)).not.toEqual(a);

    const removeA = proxy.addRule({ fault: { kind: 'status', status: 500 } });
    expect((await request('GET', '/data')).status).toBe(500);
    removeA();
    expect((await request('GET', '/data')).status).toBe(200);
    proxy.addRule({ fault: { kind: 'status', status: 500 } });
    proxy.clear();
    expect((await request('GET', '/data')).status).toBe(200);
  });

  it('carries signed AWS SDK requests to s3rver unchanged', async () => {
    const s3proxy = await FaultProxy.start(s3Endpoint(), { seed: 1 });
    const client = new S3Client({ ...s3rverClientConfig(), endpoint: s3proxy.url, maxAttempts: 3 });
    try {
      const Bucket = uniqueName('proxy');
      await client.send(new CreateBucketCommand({ Bucket }));
      // One 503 on the PUT: the SDK retries through the proxy and succeeds.
      s3proxy.addRule({ match: { method: 'PUT', path: /\/k(\?|$)/ }, fault: { kind: 'status', status: 503 }, times: 1 });
      await client.send(new PutObjectCommand({ Bucket, Key: 'k', Body: DATA, Metadata: { sha256: 'x' } }));
      const out = await client.send(new GetObjectCommand({ Bucket, Key: 'k' }));
      expect(Buffer.from(await out.Body!.transformToByteArray()).equals(DATA)).toBe(true);
      expect(out.Metadata).toEqual({ sha256: 'x' });
      expect(s3proxy.stats.faults.status).toBe(1);
    } finally {
      client.destroy();
      await s3proxy.close();
    }
  });
});
