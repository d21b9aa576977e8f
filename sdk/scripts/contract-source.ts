/**
 * Where the SDK's generated types come from: the server's contract (its zod
 * schemas) and its tRPC router. This is the only file of the SDK that
 * reaches into the server's packages, and only the generator and the type
 * checks import it (both are dev-time; the two packages are devDependencies);
 * nothing under sdk/src does, so the built package never sees them.
 */
export * as contract from '@clafusion/contract';
export { appRouter } from '@clafusion/api/trpc';
export type { AppRouter } from '@clafusion/api/trpc';
