/**
 * Property-based fuzzing of every procedure's input schema: random JSON (and
 * near-miss objects built from the contract's own field names) sent to every
 * query and mutation the router has, found by walking the router so routes
 * added later are fuzzed too. The services behind the procedures answer
 * not_found to everything, so an input either fails validation with the
 * envelope's `invalid_request`/`limit_exceeded` (with the issues listed) or
 * reaches a service; nothing else — no internal_error, no raw TypeError.
 */
import { TRPCError } from '@trpc/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError, toApiErrorBody } from '../errors.ts';
import { appRouter } from './app-router.ts';
import type { Context, Services } from './context.ts';

const BUDGET = { numRuns: 200, interruptAfterTimeLimit: 10_000 } as const;

/** Anything a service is asked answers not_found: the schema is what is under test. */
const REACHED = 'service reached';
function notFoundEverywhere(): Services {
  const method = () => Promise.reject(new ApiError('not_found', REACHED, {}));
  const service = new Proxy({}, { get: () => method });
  return new Proxy({}, { get: (_t, key) => (key === 'eventPollMs' ? 10 : key === 'publicUrl' ? null : service) }) as Services;
}

const context: Context = { services: notFoundEverywhere(), tenant: 'acme', idempotencyKey: null, baseUrl: 'http://127.0.0.1' };
const caller = appRouter.createCaller(context) as unknown as Record<string, Record<string, (input: unknown) => Promise<unknown>>>;

type ProcedureDef = { type: 'query' | 'mutation' | 'subscription'; inputs: { safeParse(v: unknown): { success: boolean } }[] };
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: ProcedureDef }>).map(([path, p]) => ({ path, def: p._def }));

/** Field names the contract uses, so generated objects get past "unrecognized key" into the nested schemas. */
const FIELDS = [
  'id', 'name', 'purpose', 'size', 'arch', 'models', 'calibration', 'evaluation', 'file', 'samples', 'seed', 'fusion', 'method',
  'weights', 'mapping', 'kind', 'layers', 'balance', 'limit', 'after', 'lastEventId', 'version', 'anchor', 'solver', 'cron',
];
const idLike = fc.constantFrom('file_0000000000000000000000000', 'fus_0000000000000000000000000', '../x', '', 'a'.repeat(300), '1', '__proto__', 'latest');
const leaf = fc.oneof(fc.jsonValue({ maxDepth: 2 }), idLike, fc.constantFrom(-1, 0, 1e308, 2 ** 53, 0.5, -0, 'model', 'dataset', 'cla'));
const nearMiss = fc.letrec<{ obj: unknown; value: unknown }>((tie) => ({
  obj: fc.dictionary(fc.constantFrom(...FIELDS), tie('value'), { maxKeys: 6, depthIdentifier: 'near' }),
  value: fc.oneof({ depthSize: 'small', depthIdentifier: 'near' }, leaf, tie('obj'), fc.array(tie('value'), { maxLength: 10, depthIdentifier: 'near' })),
})).obj;
const anyInput = fc.oneof(fc.jsonValue(), nearMiss, fc.constant(undefined));

const ALLOWED = new Set(['invalid_request', 'limit_exceeded', 'not_found']);

describe('every procedure’s input schema under random JSON', () => {
  it('the router has the procedures this test walks', () => {
    expect(procedures.map((p) => p.path)).toEqual(expect.arrayContaining(['files.create', 'fusions.create', 'fusions.list', 'fusions.stream']));
  });

  it.each(procedures.filter((p) => p.def.type !== 'subscription'))('$path: a typed validation error or the service, nothing else', async ({ path }) => {
    const [group, name] = path.split('.');
    const call = caller[group][name];
    await fc.assert(
      fc.asyncProperty(anyInput, async (input) => {
        let error: unknown;
        try {
          await call(input);
        } catch (e) {
          error = e;
        }
        expect(error, 'every service answers not_found, so every call fails').toBeInstanceOf(TRPCError);
        const body = toApiErrorBody(error);
        expect(ALLOWED, `${path}: ${body.code} ${body.message}`).toContain(body.code);
        if (body.code === 'not_found') expect(body.message).toBe(REACHED);
        if (body.code === 'invalid_request') expect(body.message.length).toBeGreaterThan(0);
      }),
      BUDGET,
    );
  });

  it.each(procedures.filter((p) => p.def.type === 'subscription'))('$path: its schema answers random JSON without throwing', ({ def }) => {
    fc.assert(
      fc.property(anyInput, (input) => {
        for (const schema of def.inputs) expect(typeof schema.safeParse(input).success).toBe('boolean');
      }),
      BUDGET,
    );
  });
});
