/** client.webhooks: endpoints (with their signing secrets) and a job's deliveries. */
import type { HttpClient } from '../core/http.ts';
import type { CreateWebhookEndpointInput, ListPage, WebhookDelivery, WebhookEndpoint } from '../core/types.ts';

export class Webhooks {
  constructor(private readonly http: HttpClient) {}

  /** Registers an endpoint that hears every job's events; returns it with its `secret`. */
  register(input: CreateWebhookEndpointInput): Promise<WebhookEndpoint> {
    return this.http.json({ method: 'POST', path: '/v1/webhooks/endpoints', json: input });
  }

  async endpoints(): Promise<WebhookEndpoint[]> {
    return (await this.http.json<{ data: WebhookEndpoint[] }>({ method: 'GET', path: '/v1/webhooks/endpoints' })).data;
  }

  deleteEndpoint(id: string): Promise<{ id: string; deleted: true }> {
    return this.http.json({ method: 'DELETE', path: `/v1/webhooks/endpoints/${encodeURIComponent(id)}` });
  }

  /** Every delivery for a job's events: status and each attempt's HTTP status. */
  async deliveries(jobId: string): Promise<WebhookDelivery[]> {
    return (await this.http.json<ListPage<WebhookDelivery>>({ method: 'GET', path: `/v1/fusions/${encodeURIComponent(jobId)}/webhook-deliveries` })).data;
  }
}
