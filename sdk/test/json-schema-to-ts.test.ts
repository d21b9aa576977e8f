/**
 * The SDK type generator's JSON Schema → TypeScript emitter on the shapes
 * zod writes, each worked out by hand (the generated contract types are
 * checked against z.infer in test/sdk-types.test.ts), and its refusals.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toTypeScript } from '../scripts/json-schema-to-ts.ts';

const emit = (schema: z.ZodType, io: 'input' | 'output' = 'output') => {
  const { $schema: _s, ...json } = z.toJSONSchema(schema, { io }) as Record<string, unknown>;
  return toTypeScript(json, { ref: (r) => r.replace('#/$defs/', '') });
};

describe('JSON Schema to TypeScript', () => {
  it('writes scalars, literals, enums, nullables and arrays', () => {
    expect(emit(z.string())).toBe('string');
    expect(emit(z.int().min(0))).toBe('number');
    expect(emit(z.literal('list'))).toBe('"list"');
    expect(emit(z.enum(['a|b', 'c']))).toBe('"a|b" | "c"');
    expect(emit(z.string().nullable())).toBe('string | null');
    expect(emit(z.array(z.union([z.number(), z.string()])))).toBe('(number | string)[]');
    expect(emit(z.array(z.enum(['x|y', 'z'])).nullable())).toBe('("x|y" | "z")[] | null');
    expect(emit(z.tuple([z.string(), z.number()]))).toBe('[string, number]');
    expect(emit(z.tuple([z.string()], z.number()))).toBe('[string, ...number[]]');
    expect(emit(z.unknown())).toBe('unknown');
  });

  it('writes objects with optional keys, index signatures and defaults by side', () => {
    expect(emit(z.strictObject({ a: z.string(), 'b-c': z.boolean().optional() }))).toBe('{\n  a: string;\n  "b-c"?: boolean;\n}');
    expect(emit(z.record(z.string(), z.number()))).toBe('{\n  [key: string]: number;\n}');
    expect(emit(z.looseObject({ a: z.string() }))).toBe('{\n  a: string;\n  [key: string]: unknown;\n}');
    const withDefault = z.object({ limit: z.int().default(20) });
    expect(emit(withDefault, 'output')).toBe('{\n  limit: number;\n}');
    expect(emit(withDefault, 'input')).toBe('{\n  limit?: number;\n}');
  });

  it('refuses what it cannot type, naming where', () => {
    expect(() => toTypeScript({ type: 'object', if: {} }, { ref: String }, 'Thing')).toThrow('Thing: JSON Schema keyword "if" is not supported');
    expect(() => toTypeScript({ properties: { a: { type: 'bigint' } }, type: 'object' }, { ref: String }, 'Thing')).toThrow('Thing/properties/a: JSON Schema type "bigint"');
    expect(() => emit(z.date())).toThrow();
  });
});
