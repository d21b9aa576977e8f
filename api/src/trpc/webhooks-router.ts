/** webhooks.*: register endpoints (each with its signing secret), list them, and list a job's deliveries. */
import { z } from 'zod';
import { CreateWebhookEndpointInput, FusionId, LIMITS, WebhookDelivery, WebhookEndpoint, listOf } from '@clafusion/contract';
import { protectedProcedure, router } from './init.ts';

// Any key-safe id is looked up (and is a 404 when it is not the tenant's endpoint), as for every other resource.
const EndpointId = z.string().regex(/^[a-z0-9_]{1,64}$/, 'must be a webhook endpoint id like whe_0123456789abcdef01234567');

export const webhooksRouter = router({
  register: protectedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/endpoints',
        tags: ['webhooks'],
        summary: 'Register an endpoint that hears the events of every job (returns its signing secret)',
        description:
          'Registering a URL again changes its events and keeps its secret. A job naming a URL in spec.webhook gets an endpoint (and secret) too, listed here. Loopback, private and link-local addresses are refused unless WEBHOOK_ALLOW_HOSTS names them.',
      },
    })
    .input(CreateWebhookEndpointInput)
    .output(WebhookEndpoint)
    .mutation(({ ctx, input }) => ctx.services.webhooks.register(ctx.tenant, input)),

  endpoints: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/webhooks/endpoints', tags: ['webhooks'], summary: 'Webhook endpoints with their signing secrets' } })
    .input(z.strictObject({}))
    .output(z.object({ object: z.literal('list'), data: z.array(WebhookEndpoint) }))
    .query(({ ctx }) => ctx.services.webhooks.listEndpoints(ctx.tenant)),

  deleteEndpoint: protectedProcedure
    .meta({ openapi: { method: 'DELETE', path: '/webhooks/endpoints/{id}', tags: ['webhooks'], summary: 'Delete an endpoint (its pending deliveries fail)' } })
    .input(z.strictObject({ id: EndpointId }))
    .output(z.object({ id: z.string(), object: z.literal('webhook_endpoint'), deleted: z.literal(true) }))
    .mutation(({ ctx, input }) => ctx.services.webhooks.deleteEndpoint(ctx.tenant, input.id)),

  deliveries: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/fusions/{id}/webhook-deliveries',
        tags: ['webhooks'],
        summary: 'A job’s webhook deliveries: event id, status, every attempt with its HTTP status',
      },
    })
    .input(z.strictObject({ id: FusionId, limit: z.int().min(1).max(LIMITS.maxPageSize).default(LIMITS.maxPageSize) }))
    .output(listOf(WebhookDelivery))
    .query(({ ctx, input }) => ctx.services.webhooks.deliveries(ctx.tenant, input.id, input.limit)),
});
