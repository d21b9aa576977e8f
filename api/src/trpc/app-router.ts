import { filesRouter } from './files-router.ts';
import { fusionsRouter } from './fusions-router.ts';
import { router } from './init.ts';
import { lineagesRouter } from './lineages-router.ts';
import { linksRouter } from './links-router.ts';
import { schedulesRouter } from './schedules-router.ts';
import { systemRouter } from './system-router.ts';
import { webhooksRouter } from './webhooks-router.ts';

export const appRouter = router({ files: filesRouter, fusions: fusionsRouter, lineages: lineagesRouter, schedules: schedulesRouter, system: systemRouter, webhooks: webhooksRouter, links: linksRouter });
export type AppRouter = typeof appRouter;
