export { type Client, createClient } from './client.ts';
export type { ClientOptions } from './core/http.ts';
export * from './core/errors.ts';
export { type VerifyOptions, WebhookVerificationError, verifyWebhook } from './core/webhooks.ts';
export type * from './core/types.ts';
export type { PagedList } from './core/pagination.ts';
export type { UploadSource } from './core/uploads.ts';
export type { UploadOptions } from './resources/files.ts';
export type { CreateOptions, WaitOptions } from './resources/fusions.ts';
