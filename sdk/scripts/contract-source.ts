/**
 * Where the SDK's generated types come from: the server's contract (its zod
 * schemas) and its tRPC router. This is the only file of the SDK that
 * reaches into the server's sources, and only the generator and the type
 * checks import it; nothing under sdk/src does, so the built package never
 * sees them.
 */
export * as contract from '../../api/src/contract/index.ts';
export { appRouter } from '../../api/src/trpc/app-router.ts';
export type { AppRouter } from '../../api/src/trpc/app-router.ts';
