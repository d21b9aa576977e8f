/**
 * JSON Schema (as zod's `z.toJSONSchema` writes it, draft 2020-12) to a
 * TypeScript type expression. Only the subset zod emits for the contract is
 * accepted; anything else throws, naming the path, so a new kind of schema in
 * the contract fails the generation instead of silently becoming `unknown`.
 * Checks that TypeScript cannot express (patterns, ranges, lengths) are
 * dropped: the server enforces them.
 */

export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema | boolean;
  prefixItems?: JsonSchema[];
  not?: JsonSchema;
  description?: string;
  [keyword: string]: unknown;
}

/** Keywords that constrain values beyond what a type says; ignored. */
const VALUE_CHECKS = new Set([
  '$schema',
  '$id',
  'id',
  'title',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'default',
  'examples',
  'contentEncoding',
]);
const UNDERSTOOD = new Set([
  ...VALUE_CHECKS,
  '$ref',
  '$defs',
  'type',
  'const',
  'enum',
  'anyOf',
  'oneOf',
  'allOf',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'prefixItems',
  'not',
  'description',
]);

export interface EmitOptions {
  /** Turns a `$ref` into the name of a type the emitted code can see. */
  ref: (ref: string) => string;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function toTypeScript(schema: JsonSchema, options: EmitOptions, path = '#', indent = ''): string {
  for (const key of Object.keys(schema)) {
    if (!UNDERSTOOD.has(key)) throw new Error(`${path}: JSON Schema keyword "${key}" is not supported by the SDK type generator`);
  }
  const inner = indent + '  ';
  if (schema.$ref !== undefined) return options.ref(schema.$ref);
  if (schema.not !== undefined) {
    if (Object.keys(schema.not).length === 0) return 'never';
    throw new Error(`${path}: "not" is only supported as {not: {}} (never)`);
  }
  if (schema.const !== undefined) return literal(schema.const, path);
  if (schema.enum !== undefined) return union(schema.enum.map((v) => literal(v, path)));
  if (schema.anyOf !== undefined || schema.oneOf !== undefined) {
    const members = (schema.anyOf ?? schema.oneOf)!;
    return union(members.map((m, i) => toTypeScript(m, options, `${path}/anyOf/${i}`, indent)));
  }
  if (schema.allOf !== undefined) {
    return schema.allOf.map((m, i) => wrap(toTypeScript(m, options, `${path}/allOf/${i}`, indent))).join(' & ');
  }
  if (Array.isArray(schema.type)) {
    return union(schema.type.map((t) => toTypeScript({ ...schema, type: t }, options, path, indent)));
  }
  switch (schema.type) {
    case undefined:
      return 'unknown';
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array': {
      // `items` is the element type, or after `prefixItems` the rest's; `false` means none.
      const items = schema.items;
      const element =
        items === false ? null : items === undefined || items === true ? 'unknown' : wrap(toTypeScript(items, options, `${path}/items`, indent));
      if (schema.prefixItems !== undefined) {
        const fixed = schema.prefixItems.map((m, i) => toTypeScript(m, options, `${path}/prefixItems/${i}`, indent));
        return `[${[...fixed, ...(element === null ? [] : [`...${element}[]`])].join(', ')}]`;
      }
      return element === null ? '[]' : `${element}[]`;
    }
    case 'object': {
      const lines: string[] = [];
      const required = new Set(schema.required ?? []);
      for (const [key, value] of Object.entries(schema.properties ?? {})) {
        const type = toTypeScript(value, options, `${path}/properties/${key}`, inner);
        const name = IDENTIFIER.test(key) ? key : JSON.stringify(key);
        if (value.description) lines.push(...docComment(value.description, inner));
        lines.push(`${inner}${name}${required.has(key) ? '' : '?'}: ${type};`);
      }
      const extra = schema.additionalProperties;
      // zod writes `additionalProperties: false` for objects that drop or refuse unknown keys
      // (output side) and leaves it out on the input side; both are plain object types.
      if (extra !== undefined && extra !== false) {
        const value = extra === true ? 'unknown' : toTypeScript(extra, options, `${path}/additionalProperties`, inner);
        if (schema.propertyNames !== undefined && schema.propertyNames.type !== 'string') {
          throw new Error(`${path}: only string property names are supported`);
        }
        lines.push(`${inner}[key: string]: ${value};`);
      }
      // An object with no keys that refuses every other one is zod's strictObject({}): Record<string, never>, as z.infer says.
      if (lines.length === 0 && extra === false) return 'Record<string, never>';
      return lines.length === 0 ? '{}' : `{\n${lines.join('\n')}\n${indent}}`;
    }
    default:
      throw new Error(`${path}: JSON Schema type "${String(schema.type)}" is not supported by the SDK type generator`);
  }
}

export function docComment(text: string, indent: string): string[] {
  const lines = text.split('\n');
  if (lines.length === 1) return [`${indent}/** ${text} */`];
  return [`${indent}/**`, ...lines.map((l) => `${indent} * ${l}`.trimEnd()), `${indent} */`];
}

function literal(value: unknown, path: string): string {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return JSON.stringify(value);
  throw new Error(`${path}: only string, number, boolean and null literals are supported`);
}

function union(members: string[]): string {
  const unique = [...new Set(members)];
  return unique.length === 1 ? unique[0]! : unique.map(wrap).join(' | ');
}

/** Parenthesises unions and intersections where they are array elements or intersection members. */
function wrap(type: string): string {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < type.length; i++) {
    const ch = type[i]!;
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if ('{[(<'.includes(ch)) depth++;
    else if ('}])>'.includes(ch)) depth--;
    else if (depth === 0 && (ch === '|' || ch === '&')) return `(${type})`;
  }
  return type;
}
