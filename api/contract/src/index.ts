/**
 * The API contract: zod schemas for every request and response, the error
 * envelope and codes, and the documented limits. It imports nothing but zod,
 * so the SDK and the runner can depend on it without pulling in the server.
 */
export * from './ids.ts';
export * from './errors.ts';
export * from './limits.ts';
export * from './pagination.ts';
export * from './file-names.ts';
export * from './files.ts';
export * from './spec.ts';
export * from './jobs.ts';
export * from './lineages.ts';
export * from './fusion-request.ts';
export * from './schedules.ts';
export * from './records.ts';
export * from './options.ts';
export * from './lifecycle.ts';
export * from './webhooks.ts';
