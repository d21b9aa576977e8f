/** files.*: create an upload, complete it, describe it, get a download link. */
import { z } from 'zod';
import { CreateFileInput, CreateFileResult, DeletedFile, DownloadLink, FileId, FileObject, ListFilesInput, listOf } from '@clafusion/contract';
import { protectedProcedure, router } from './init.ts';

const ById = z.strictObject({ id: FileId });

export const filesRouter = router({
  create: protectedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/files',
        tags: ['files'],
        summary: 'Create a file and get where to PUT its bytes',
        description: 'Returns the file (status pending) and upload instructions: a presigned URL when the store is S3, else the API streaming endpoint PUT /v1/files/{id}/content.',
      },
    })
    .input(CreateFileInput)
    .output(CreateFileResult)
    .mutation(({ ctx, input }) => ctx.services.files.create(ctx.tenant, input, ctx.baseUrl)),

  get: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/files/{id}', tags: ['files'], summary: 'Describe a file' } })
    .input(ById)
    .output(FileObject)
    .query(({ ctx, input }) => ctx.services.files.get(ctx.tenant, input.id)),

  complete: protectedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/files/{id}/complete',
        tags: ['files'],
        summary: 'Validate the uploaded bytes and mark the file ready',
        description: 'Reads only the safetensors header (for a model, or a PyTorch checkpoint\'s directory and pickle): names, dtypes, shapes and architecture (models) or x/y (datasets). Records size, sha256 and architecture.',
      },
    })
    .input(ById)
    .output(FileObject)
    .mutation(({ ctx, input }) => ctx.services.files.complete(ctx.tenant, input.id)),

  download: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/files/{id}/download', tags: ['files'], summary: 'A URL to download the file' } })
    .input(ById)
    .output(DownloadLink)
    .query(({ ctx, input }) => ctx.services.files.downloadLink(ctx.tenant, input.id, ctx.baseUrl)),

  list: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/files',
        tags: ['files'],
        summary: 'List files, newest first',
        description: 'Filter with purpose (model, dataset) and status (pending, ready); page with after = the last id seen.',
      },
    })
    .input(ListFilesInput)
    .output(listOf(FileObject))
    .query(({ ctx, input }) => ctx.services.fileLifecycle.list(ctx.tenant, input)),

  delete: protectedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/files/{id}',
        tags: ['files'],
        summary: 'Delete a file: its bytes and its record',
        description: 'Refused with 409 file_in_use while a queued or running job or a lineage version uses the file (details.jobs, details.lineage_versions). Finished jobs keep their record of the file’s name and sha256.',
      },
    })
    .input(ById)
    .output(DeletedFile)
    .mutation(({ ctx, input }) => ctx.services.fileLifecycle.delete(ctx.tenant, input.id)),
});
