/**
 * Just enough of the Dockerfile grammar for the image checks: line
 * continuations, comment lines (also inside a continued instruction, as
 * BuildKit allows), build stages, ARG defaults in FROM, and exec-form JSON
 * arguments.
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  keyword: string;
  args: string;
  /** Index of the build stage (FROM) it belongs to; -1 before the first FROM. */
  stage: number;
}

export interface Stage {
  /** The image reference with global ARG defaults substituted. */
  image: string;
  name: string | null;
  instructions: Instruction[];
}

export interface Dockerfile {
  instructions: Instruction[];
  stages: Stage[];
  args: Record<string, string>;
}

export function parseDockerfile(path: string): Dockerfile {
  const logical: string[] = [];
  let current = '';
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line) || (current === '' && line.trim() === '')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push((current + line).trim());
    current = '';
  }
  if (current.trim()) logical.push(current.trim());

  const args: Record<string, string> = {};
  const instructions: Instruction[] = [];
  const stages: Stage[] = [];
  for (const text of logical) {
    const m = /^(\S+)\s*(.*)$/s.exec(text)!;
    const keyword = m[1].toUpperCase();
    const rest = m[2].replace(/\s+/g, ' ').trim();
    if (keyword === 'ARG' && stages.length === 0) {
      const [name, value] = rest.split('=', 2);
      args[name] = value ?? '';
    }
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      const image = from[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => args[a ?? b] ?? '');
      stages.push({ image, name: from[2] ?? null, instructions: [] });
    }
    const instruction = { keyword, args: rest, stage: stages.length - 1 };
    instructions.push(instruction);
    stages.at(-1)?.instructions.push(instruction);
  }
  return { instructions, stages, args };
}

/** COPY sources taken from the build context (not --from another stage). */
export function contextCopies(file: Dockerfile): string[] {
  return file.instructions
    .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
    .flatMap((i) => {
      const parts = i.args.split(' ').filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1);
    });
}

/** Exec-form (JSON array) arguments, or null for shell form. */
export function execForm(args: string): string[] | null {
  const json = args.replace(/^(?:--\S+\s+)*(?:CMD\s+)?/, '');
  if (!json.startsWith('[')) return null;
  return JSON.parse(json) as string[];
}

/**
 * Whether a context path survives a .dockerignore (last matching rule wins;
 * `*` matches one path segment; a rule also covers everything under it).
 */
export function includedByDockerignore(rules: string[], path: string): boolean {
  const toRegex = (pattern: string) =>
    new RegExp(
      `^${pattern
        .replace(/\/$/, '')
        .split('/')
        .map((seg) => (seg === '**' ? '.*' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?')}(?:/.*)?$`,
    );
  let included = true;
  for (const raw of rules) {
    const rule = raw.trim();
    if (!rule || rule.startsWith('#')) continue;
    const negate = rule.startsWith('!');
    if (toRegex(negate ? rule.slice(1) : rule).test(path)) included = negate;
  }
  return included;
}
