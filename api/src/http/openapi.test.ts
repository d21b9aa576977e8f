/**
 * The OpenAPI document as a client generator sees it: it validates against
 * the OpenAPI 3.1 schema; every operation has a unique operationId and lists
 * every status it can answer with the error envelope and that status's
 * codes (never a 403: other tenants' ids are 404s); and a client generated
 * from it with openapi-typescript type-checks a call and its documented
 * errors (and rejects an undocumented one).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import openapiTS, { astToString } from 'openapi-typescript';
import { describe, expect, it } from 'vitest';
import { API_ERROR_STATUS, type ApiErrorCode } from '@clafusion/contract';
import { errorCodesOf } from './openapi-errors.ts';
import { openApiDocument } from './openapi.ts';

type Operation = { operationId?: string; responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }> };
const document = openApiDocument('http://127.0.0.1:8787/v1') as unknown as { paths: Record<string, Record<string, Operation>> };
const operations = Object.entries(document.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => ['get', 'put', 'post', 'patch', 'delete'].includes(method))
    .map(([method, op]) => ({ method, path, op })),
);

describe('the OpenAPI document', () => {
  it('validates against the OpenAPI 3.1 schema', async () => {
    const result = await new Validator().validate(JSON.parse(JSON.stringify(document)));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('gives every operation a unique operationId', () => {
    const ids = operations.map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations.length).toBeGreaterThan(35);
  });

  it('lists every status an operation can answer, each with the envelope and its codes', () => {
    for (const { method, path, op } of operations) {
      const codes = errorCodesOf(method, path);
      const statuses = [...new Set(codes.map((c) => API_ERROR_STATUS[c]))];
      const declared = Object.keys(op.responses).filter((s) => Number(s) >= 400);
      expect(declared.sort(), `${method} ${path}`).toEqual(statuses.map(String).sort());
      expect(declared).not.toContain('403');
      for (const status of statuses) {
        const schema = op.responses[String(status)].content!['application/json'].schema as {
          properties: { error: { properties: { code: { enum: ApiErrorCode[] } } } };
        };
        expect(schema.properties.error.properties.code.enum.sort()).toEqual(codes.filter((c) => API_ERROR_STATUS[c] === status).sort());
      }
    }
    // The ones the issue found missing.
    const create = operations.find((o) => o.method === 'post' && o.path === '/fusions')!.op;
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['409', '413', '415', '422', '429']));
  });

  it('generates a client with openapi-typescript that type-checks a call and its documented errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clafusion-openapi-client-'));
    try {
      writeFileSync(join(dir, 'api.ts'), astToString(await openapiTS(document as never)));
      writeFileSync(
        join(dir, 'call.ts'),
        `import type { paths } from './api.ts';
type Create = paths['/fusions']['post'];
type Body = NonNullable<Create['requestBody']>['content']['application/json'];
type Conflict = Create['responses'][409]['content']['application/json'];
type Unprocessable = Create['responses'][422]['content']['application/json'];
type Job = Create['responses'][200]['content']['application/json'];

export async function create(base: string, key: string, body: Body): Promise<Job> {
  const res = await fetch(base + '/v1/fusions', { method: 'POST', headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status === 409) {
    const conflict = (await res.json()) as Conflict;
    const code: 'idempotency_key_reused' | 'file_not_ready' = conflict.error.code;
    throw new Error(code);
  }
  if (res.status === 422) throw new Error(((await res.json()) as Unprocessable).error.code);
  return (await res.json()) as Job;
}
export const body: Body = { models: ['file_0000000000000000000000000', 'file_0000000000000000000000001'], calibration: { file: 'file_0000000000000000000000002' }, webhook: { url: 'https://example.com/hook', events: ['succeeded'] } };
export const status = (job: Job): 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled' => job.status;
// @ts-expect-error rate_limited is a 429, not one of the 409 codes
export const wrong: Conflict['error']['code'] = 'rate_limited';
type Deleted = paths['/files/{id}']['delete']['responses'][409]['content']['application/json'];
export const inUse: Deleted['error']['code'] = 'file_in_use';
`,
      );
      const tsc = resolve(import.meta.dirname, '../../../node_modules/.bin/tsc');
      execFileSync(tsc, ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--allowImportingTsExtensions', '--types', 'node', '--typeRoots', resolve(import.meta.dirname, '../../../node_modules/@types'), join(dir, 'call.ts')], { stdio: 'pipe', cwd: dir });
    } catch (err) {
      const e = err as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`generated client does not type-check:\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? String(err)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
