import { filesRouter } from './files-router.ts';
import { fusionsRouter } from './fusions-router.ts';
import { router } from './init.ts';

export const appRouter = router({ files: filesRouter, fusions: fusionsRouter });
export type AppRouter = typeof appRouter;
