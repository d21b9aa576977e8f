/** system.*: what the service is (versions, the runners behind it). */
import { z } from 'zod';
import { VersionInfo } from '@clafusion/contract';
import { versionInfo } from '../lifecycle/version-info.ts';
import { protectedProcedure, router } from './init.ts';

export const systemRouter = router({
  version: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/version',
        tags: ['system'],
        summary: 'API and engine versions, and the runners seen recently with their backend',
      },
    })
    .input(z.strictObject({}))
    .output(VersionInfo)
    .query(({ ctx }) => versionInfo(ctx.services.store)),
});
