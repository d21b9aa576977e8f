/**
 * Verifies a webhook delivery as Standard Webhooks defines it: the
 * `webhook-signature` header holds one or more `v1,<base64>` signatures,
 * HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${raw body}` keyed
 * with the base64 part of the endpoint's `whsec_` secret. The timestamp must
 * be within `toleranceSeconds` of now (replays of old deliveries fail).
 * Pass the raw body exactly as received (re-serialised JSON will not match).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookEvent } from './types.ts';

export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
}

export interface VerifyOptions {
  /** Default 300 (five minutes). */
  toleranceSeconds?: number;
  /** For tests: the current time in ms. */
  now?: number;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Returns the parsed event when the signature is valid; throws WebhookVerificationError when not. */
export function verifyWebhook(body: string | Uint8Array, headers: HeaderSource, secret: string, options: VerifyOptions = {}): WebhookEvent {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature header');
  const seconds = Number(timestamp);
  if (!Number.isInteger(seconds)) throw new WebhookVerificationError('webhook-timestamp is not an integer');
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs((options.now ?? Date.now()) / 1000 - seconds) > tolerance) throw new WebhookVerificationError('webhook-timestamp is too old or too new');
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${seconds}.${text}`).digest();
  const valid = signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || !signature) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!valid) throw new WebhookVerificationError('no webhook-signature matches the body');
  return JSON.parse(text) as WebhookEvent;
}
