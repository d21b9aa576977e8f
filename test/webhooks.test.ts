/**
 * Webhooks end to end on the embedded service (real HTTP on 127.0.0.1, the
 * in-process runner): a receiver that fails the first two deliveries gets
 * every event once after de-duplication on webhook-id, each with a valid
 * Standard Webhooks signature; deliveries are listed with every attempt.
 * The SSRF guard is checked with injected DNS and request functions: no
 * connection is ever attempted to a refused address (nothing is sent to a
 * non-loopback address).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { FusionJob, JobEvent, ListPage, WebhookDelivery, WebhookEndpoint } from '../api/contract/src/index.ts';
import { WebhookSender } from '../api/src/webhooks/sender.ts';
import { WebhookVerificationError, createClient, verifyWebhook } from '../sdk/src/index.ts';
import { startEmbedded } from './support/embedded.ts';
import { type Fixtures, writeFixtures } from './support/fixtures.ts';
import { Rest, expectApiError } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-webhooks-'));
let fixtures: Fixtures;
let server: Awaited<ReturnType<typeof startEmbedded>>;
let api: Rest;
let receiver: Server;
let receiverUrl: string;
const received: { headers: IncomingHttpHeaders; body: string; answered: number }[] = [];

beforeAll(async () => {
  fixtures = writeFixtures(dir);
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // The first two deliveries fail; every later one is accepted.
      const answered = received.length < 2 ? 500 : 200;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  server = await startEmbedded(join(dir, 'store'), 1, { webhooks: { pollMs: 50, retryBaseMs: 50, allowHosts: ['127.0.0.1'] } });
  api = new Rest(server.url, (await createApiKey(server.services.store, 'acme')).token);
});

afterAll(async () => {
  await server?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function settled(jobId: string, count: number): Promise<WebhookDelivery[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { data } = await api.json<ListPage<WebhookDelivery>>(`/v1/fusions/${jobId}/webhook-deliveries`);
    if (data.length >= count && data.every((d) => d.status !== 'pending')) return data;
    if (Date.now() > deadline) throw new Error(`deliveries: ${JSON.stringify(data.map((d) => [d.event_type, d.status, d.attempts.length]))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('webhooks', () => {
  it('delivers every chosen event once after de-duplication, signed, despite two failed deliveries', async () => {
    const [a, b, cal] = [await api.upload(fixtures.a, 'model'), await api.upload(fixtures.b, 'model'), await api.upload(fixtures.calibration, 'dataset')];
    const spec = { models: [a.id, b.id], calibration: { file: cal.id }, webhook: { url: receiverUrl, events: ['progress', 'succeeded'] } };
    const job = await api.json<FusionJob>('/v1/fusions', { method: 'POST', json: spec });
    expect(job.spec.webhook).toEqual(spec.webhook);
    await api.waitFor(job.id, (j) => j.status === 'succeeded');
    const events = (await api.json<ListPage<JobEvent>>(`/v1/fusions/${job.id}/events?limit=100`)).data.filter((e) => e.type === 'progress' || e.type === 'succeeded');
    const deliveries = await settled(job.id, events.length);

    const client = createClient({ baseUrl: api.base, apiKey: api.key });
    const endpoint = (await client.webhooks.endpoints()).find((e) => e.url === receiverUrl)!;
    expect(endpoint.secret).toMatch(/^whsec_/);
    const unique = new Map<string, ReturnType<typeof verifyWebhook>>();
    for (const r of received.filter((r) => r.answered === 200)) {
      const event = verifyWebhook(r.body, r.headers as Record<string, string>, endpoint.secret);
      expect(event.id).toBe(r.headers['webhook-id']);
      unique.set(event.id, event);
    }
    // Each event of the job reached the receiver (once after de-duplication), in its own delivery.
    expect([...unique.keys()].sort()).toEqual(events.map((e) => `evt_${job.id}_${e.seq}`).sort());
    expect([...unique.values()].map((e) => e.type).sort()).toEqual(events.map((e) => `fusion.${e.type}`).sort());
    const succeeded = [...unique.values()].find((e) => e.type === 'fusion.succeeded')!;
    expect((succeeded.data.job as FusionJob).status).toBe('succeeded');

    // The two refused deliveries were retried under the same event id and the same body.
    const failed = received.filter((r) => r.answered === 500);
    expect(failed).toHaveLength(2);
    for (const f of failed) {
      const retry = received.find((r) => r.answered === 200 && r.headers['webhook-id'] === f.headers['webhook-id'])!;
      expect(retry.body).toBe(f.body);
    }
    // Recorded and listable: every delivery delivered, the first attempts with their 500s.
    expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
    const attempts = deliveries.flatMap((d) => d.attempts.map((x) => x.status));
    expect(attempts.filter((s) => s === 500)).toHaveLength(2);
    expect(attempts.filter((s) => s === 200)).toHaveLength(deliveries.length);

    // A tampered body, another secret or an old timestamp fails verification.
    const one = received.find((r) => r.answered === 200)!;
    const headers = one.headers as Record<string, string>;
    expect(() => verifyWebhook(one.body.replace('fusion.', 'fusion!'), headers, endpoint.secret)).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(one.body, headers, 'whsec_' + Buffer.from('other').toString('base64'))).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(one.body, headers, endpoint.secret, { now: Date.now() + 3_600_000 })).toThrow(WebhookVerificationError);

    // Deleting the job takes its delivery records with it.
    await client.fusions.delete(job.id);
    await expectApiError(await api.fetch(`/v1/fusions/${job.id}/webhook-deliveries`), 'not_found');
    expect((await server.store.list(`tenants/acme/webhook-deliveries/${job.id}/`)).objects).toEqual([]);
  });

  it('refuses literal loopback, private, link-local and metadata addresses at create without the allow-list', async () => {
    const guarded = await startEmbedded(join(dir, 'guarded'), 0);
    try {
      const rest = new Rest(guarded.url, (await createApiKey(guarded.services.store, 'acme')).token);
      const [a, b, cal] = [await rest.upload(fixtures.a, 'model'), await rest.upload(fixtures.b, 'model'), await rest.upload(fixtures.calibration, 'dataset')];
      for (const url of ['http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/hook', 'http://127.0.0.1:9/x', 'http://[::1]/x', 'http://[::ffff:10.0.0.1]/x']) {
        const err = await expectApiError(
          await rest.fetch('/v1/fusions', { method: 'POST', json: { models: [a.id, b.id], calibration: { file: cal.id }, webhook: { url } } }),
          'invalid_request',
        );
        expect(err.details.field).toBe('webhook.url');
        await expectApiError(await rest.fetch('/v1/webhooks/endpoints', { method: 'POST', json: { url } }), 'invalid_request');
        const template = { models: [a.id, b.id], calibration: { file: cal.id }, webhook: { url } };
        const scheduled = await expectApiError(await rest.fetch('/v1/schedules', { method: 'POST', json: { every: 3600, template, output: { lineage: 'out' } } }), 'invalid_request');
        expect(scheduled.details.field).toBe('template.webhook.url');
      }
      await expectApiError(
        await rest.fetch('/v1/fusions', { method: 'POST', json: { models: [a.id, b.id], calibration: { file: cal.id }, webhook: { url: 'file:///etc/passwd' } } }),
        'invalid_request',
      );
    } finally {
      await guarded.close();
    }
  });

  it('never connects to a refused address, also when a host name resolves to one', async () => {
    const lookups: string[] = [];
    const connects: string[] = [];
    const lookup = async (host: string) => {
      lookups.push(host);
      return host === 'sneaky.example' ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.0.0.7', family: 4 }];
    };
    const request = ((url: URL) => {
      connects.push(url.href);
      throw new Error('no connection may be attempted');
    }) as unknown as ConstructorParameters<typeof WebhookSender>[0]['request'];
    const sender = new WebhookSender({ allowHosts: [], timeoutMs: 1000, lookup, request });
    for (const url of ['http://169.254.169.254/latest', 'http://10.0.0.1/hook', 'http://sneaky.example/hook', 'http://intranet.example/hook']) {
      const result = await sender.send(url, {}, '{}');
      expect(result.status).toBeNull();
      expect(result.error).toMatch(/^blocked: /);
    }
    expect(connects).toEqual([]);
    // Literal addresses are refused without even a DNS query; names are resolved, then refused.
    expect(lookups).toEqual(['sneaky.example', 'intranet.example']);

    // Through the service: a job whose webhook host resolves to loopback records a blocked attempt and sends nothing.
    const guarded = await startEmbedded(join(dir, 'guarded-dns'), 1, { webhooks: { pollMs: 50, retryBaseMs: 50, retryForMs: 1, lookup, request } });
    try {
      const rest = new Rest(guarded.url, (await createApiKey(guarded.services.store, 'acme')).token);
      const [a, b, cal] = [await rest.upload(fixtures.a, 'model'), await rest.upload(fixtures.b, 'model'), await rest.upload(fixtures.calibration, 'dataset')];
      const job = await rest.json<FusionJob>('/v1/fusions', { method: 'POST', json: { models: [a.id, b.id], calibration: { file: cal.id }, webhook: { url: 'http://sneaky.example/hook' } } });
      await rest.waitFor(job.id, (j) => j.status === 'succeeded');
      const deadline = Date.now() + 20_000;
      let deliveries: WebhookDelivery[] = [];
      while (Date.now() < deadline) {
        deliveries = (await rest.json<ListPage<WebhookDelivery>>(`/v1/fusions/${job.id}/webhook-deliveries`)).data;
        if (deliveries.length > 0 && deliveries.every((d) => d.status === 'failed')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(deliveries.map((d) => d.status)).toEqual(['failed']);
      expect(deliveries[0].attempts[0]).toMatchObject({ status: null, error: expect.stringMatching(/^blocked: sneaky\.example resolves to 127\.0\.0\.1/) });
      expect(connects).toEqual([]);
    } finally {
      await guarded.close();
    }
  });

  it('registered endpoints hear every job of the tenant with their own secret', async () => {
    const client = createClient({ baseUrl: api.base, apiKey: api.key });
    const registered: WebhookEndpoint = await client.webhooks.register({ url: `${receiverUrl}?all`, events: ['succeeded'] });
    expect(registered).toMatchObject({ registered: true, events: ['succeeded'], secret: expect.stringMatching(/^whsec_/) });
    const again = await client.webhooks.register({ url: `${receiverUrl}?all`, events: ['succeeded', 'failed'] });
    expect(again.secret).toBe(registered.secret);
    const [a, b, cal] = [await api.upload(fixtures.a, 'model'), await api.upload(fixtures.b, 'model'), await api.upload(fixtures.calibration, 'dataset')];
    const job = await client.fusions.create({ models: [a.id, b.id], calibration: { file: cal.id } });
    await api.waitFor(job.id, (j) => j.status === 'succeeded');
    const deliveries = await settled(job.id, 1);
    expect(deliveries.map((d) => [d.url, d.event_type, d.status])).toEqual([[`${receiverUrl}?all`, 'fusion.succeeded', 'delivered']]);
    const got = received.filter((r) => r.headers['webhook-id'] === `evt_${job.id}_${deliveries[0].event_id.split('_').at(-1)}`);
    expect(verifyWebhook(got[0].body, got[0].headers as Record<string, string>, registered.secret).type).toBe('fusion.succeeded');
    await client.webhooks.deleteEndpoint(registered.id);
  });
});
