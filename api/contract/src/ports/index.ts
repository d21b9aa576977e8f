export * from './object-store.ts';
export * from './job-queue.ts';
