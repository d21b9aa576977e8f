/**
 * A small declarative argument parser: each command declares its flags, and
 * anything undeclared, missing or malformed becomes a UsageError with one
 * clear line. No dependency, because the CLI contract must stay exactly as
 * documented.
 */
import { closest } from './suggest.ts';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  /** Takes a value (`--out FILE`) or is a bare switch (`--help`). */
  kind: 'value' | 'switch';
  /** May be given several times; values are collected in order. */
  repeat?: boolean;
  description: string;
  /** Shown in help, e.g. "FILE" or "on|off". */
  placeholder?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface ParsedArgs {
  values: Map<string, string[]>;
  switches: Set<string>;
  positionals: string[];
}

export function parseArgs(argv: readonly string[], specs: FlagSpecs): ParsedArgs {
  const values = new Map<string, string[]>();
  const switches = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = specs[name];
    if (!spec) {
      const near = closest(name, Object.keys(specs));
      throw new UsageError(`unknown option --${name}${near ? ` (did you mean --${near}?)` : ''}`);
    }
    if (spec.kind === 'switch') {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      switches.add(name);
      continue;
    }
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new UsageError(`--${name} needs a value (${spec.placeholder ?? 'VALUE'})`);
      value = argv[++i];
    }
    const list = values.get(name) ?? [];
    if (list.length > 0 && !spec.repeat) throw new UsageError(`--${name} was given more than once`);
    list.push(value);
    values.set(name, list);
  }
  return { values, switches, positionals };
}

/** Typed accessors over ParsedArgs; every error names the flag. */
export class Args {
  constructor(private readonly parsed: ParsedArgs) {}

  has(name: string): boolean {
    return this.parsed.values.has(name) || this.parsed.switches.has(name);
  }

  switch(name: string): boolean {
    return this.parsed.switches.has(name);
  }

  all(name: string): string[] {
    return this.parsed.values.get(name) ?? [];
  }

  string(name: string): string | undefined {
    return this.parsed.values.get(name)?.[0];
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`--${name} is required`);
    return v;
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const v = this.string(name);
    if (v === undefined) return fallback;
    if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${choices.join('|')}, got "${v}"`);
    return v as T;
  }

  onOff(name: string, fallback: boolean): boolean {
    const v = this.string(name);
    if (v === undefined) return fallback;
    if (v === 'on' || v === 'true') return true;
    if (v === 'off' || v === 'false') return false;
    throw new UsageError(`--${name} must be on or off, got "${v}"`);
  }

  integer(name: string, fallback: number, min = -Infinity): number {
    const v = this.string(name);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be an integer, got "${v}"`);
    const n = Number(v);
    if (n < min) throw new UsageError(`--${name} must be ≥ ${min}, got ${n}`);
    return n;
  }

  optionalInteger(name: string, min = -Infinity): number | null {
    return this.has(name) ? this.integer(name, 0, min) : null;
  }

  number(name: string, fallback: number, { min = -Infinity, max = Infinity } = {}): number {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
    if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  numberList(name: string): number[] | null {
    const v = this.string(name);
    if (v === undefined) return null;
    const parts = v.split(',').map((p) => p.trim());
    const nums = parts.map(Number);
    if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n))) {
      throw new UsageError(`--${name} must be a comma-separated list of numbers, got "${v}"`);
    }
    return nums;
  }
}

export function helpText(usage: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `  --${name}${s.kind === 'value' ? ` ${s.placeholder ?? 'VALUE'}` : ''}`;
    return `${left.padEnd(40)} ${s.description}${s.repeat ? ' (repeatable)' : ''}`;
  });
  return `${usage}\n\nOptions:\n${rows.join('\n')}\n`;
}
