/**
 * Webhooks: a job (or a schedule's template) may name a URL to call back on
 * its events, and a tenant may register endpoints that hear every job's.
 * Deliveries are signed as Standard Webhooks does: headers `webhook-id`
 * (the event id, stable across retries: de-duplicate on it),
 * `webhook-timestamp` (seconds) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "${id}.${timestamp}.${body}">`), with the
 * endpoint's secret (`whsec_<base64>`; the HMAC key is the decoded part).
 */
import { z } from 'zod';
import { FusionId } from './ids.ts';

export const WebhookEventType = z.enum(['succeeded', 'failed', 'canceled', 'progress']);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

export const WebhookUrl = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      const url = new URL(u);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials');

export const WebhookSpec = z.strictObject({
  url: WebhookUrl,
  /** Which job events to deliver (default: succeeded, failed, canceled). */
  events: z.array(WebhookEventType).min(1).max(4).optional(),
});
export type WebhookSpec = z.infer<typeof WebhookSpec>;

export const CreateWebhookEndpointInput = z.strictObject({
  url: WebhookUrl,
  events: z.array(WebhookEventType).min(1).max(4).optional(),
});
export type CreateWebhookEndpointInput = z.infer<typeof CreateWebhookEndpointInput>;

export const WebhookEndpoint = z.object({
  id: z.string(),
  object: z.literal('webhook_endpoint'),
  url: z.string(),
  /** Only for endpoints registered by the tenant (job webhooks use every event their spec names). */
  events: z.array(WebhookEventType).nullable(),
  /** Whether the tenant registered it (true) or a job's spec named it first (false). */
  registered: z.boolean(),
  /** The signing secret (`whsec_…`): verify each delivery's signature with it. */
  secret: z.string(),
  created_at: z.string(),
});
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

export const WebhookAttempt = z.object({
  at: z.string(),
  /** The HTTP status the endpoint answered, null when no answer came (refused, timed out, blocked). */
  status: z.int().nullable(),
  error: z.string().nullable(),
});

export const WebhookDelivery = z.object({
  id: z.string(),
  object: z.literal('webhook_delivery'),
  /** The event id sent as `webhook-id`: the same on every retry. */
  event_id: z.string(),
  event_type: z.string(),
  job_id: FusionId,
  url: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.array(WebhookAttempt),
  next_attempt_at: z.string().nullable(),
  created_at: z.string(),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

/** The body every delivery carries. */
export const WebhookEvent = z.object({
  id: z.string(),
  object: z.literal('event'),
  /** `fusion.succeeded`, `fusion.failed`, `fusion.canceled` or `fusion.progress`. */
  type: z.string(),
  created_at: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;
