/**
 * The OpenAPI 3.1 document: every JSON endpoint comes from the tRPC
 * procedures' `meta.openapi`; the byte and SSE endpoints, which tRPC cannot
 * describe, are added by hand.
 */
import { generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import { z } from 'zod';
import { ErrorEnvelope, FileObject } from '@clafusion/contract';
import { appRouter } from '../trpc/app-router.ts';
import { withContractErrors } from './openapi-errors.ts';

const bearer = [{ Authorization: [] }];
const errors = { default: { description: 'Error envelope', content: { 'application/json': { schema: ErrorEnvelope } } } };
const id = z.string();

export function openApiDocument(baseUrl: string): OpenAPIObject {
  return withContractErrors(generateOpenApiDocument(appRouter, {
    title: 'clafusion API',
    description: 'Fuse trained networks of different depth and width (CLAFusion + OTFusion). Authenticate with Authorization: Bearer <API key>.',
    version: '0.1.0',
    baseUrl,
    paths: {
      '/files/{id}/content': {
        put: {
          operationId: 'files-uploadContent',
          tags: ['files'],
          summary: 'Upload the file’s bytes (streamed; when the store cannot presign)',
          security: bearer,
          requestParams: { path: z.object({ id }) },
          requestBody: { content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } } },
          responses: { '200': { description: 'The file, still pending', content: { 'application/json': { schema: FileObject } } }, ...errors },
        },
        get: {
          operationId: 'files-downloadContent',
          tags: ['files'],
          summary: 'Download the file (302 to a presigned URL, or the bytes)',
          security: bearer,
          requestParams: { path: z.object({ id }) },
          responses: { '200': { description: 'The bytes' }, '302': { description: 'Presigned URL' }, ...errors },
        },
      },
      '/fusions/{id}/outputs/{name}/content': {
        get: {
          operationId: 'fusions-outputContent',
          tags: ['fusions'],
          summary: 'Download an output: fused.safetensors, report.json, report.html, fused.pt or fused.onnx (302 to a presigned URL, or the bytes)',
          security: bearer,
          requestParams: { path: z.object({ id, name: z.enum(['fused.safetensors', 'report.json', 'report.html', 'fused.pt', 'fused.onnx']) }) },
          responses: { '200': { description: 'The bytes' }, '302': { description: 'Presigned URL' }, ...errors },
        },
      },
      '/fusions/{id}/report': {
        get: {
          operationId: 'fusions-report',
          tags: ['fusions'],
          summary: 'The fusion report as a self-contained HTML page (heatmaps with the mapping, accuracy bars, timings)',
          security: bearer,
          requestParams: { path: z.object({ id }) },
          responses: { '200': { description: 'text/html; no external requests (Content-Security-Policy default-src none)' }, ...errors },
        },
      },
      '/fusions/{id}/events/stream': {
        get: {
          operationId: 'fusions-eventsStream',
          tags: ['fusions'],
          summary: 'The job’s events as server-sent events; resume with Last-Event-ID or ?after=',
          security: bearer,
          requestParams: { path: z.object({ id }), query: z.object({ after: z.string().optional() }), header: z.object({ 'last-event-id': z.string().optional() }) },
          responses: { '200': { description: 'text/event-stream; each event has id = sequence number, event = type, data = the event JSON' }, ...errors },
        },
      },
    },
  }));
}
