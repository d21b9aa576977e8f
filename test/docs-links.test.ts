/**
 * The project's documents stay self-contained: every `§N` a source file or
 * document cites names a section of docs/algorithm.md that exists (and, for
 * `§N item K` / `§N step K`, a numbered item of that section), and every
 * relative link in the repository's markdown resolves to a file inside the
 * repository (nothing may point at a folder beside the checkout).
 *
 * A `§` counts as a citation of docs/algorithm.md unless the words right
 * before it name another document (the paper, the WebAssembly spec): in this
 * project a bare `§` is the spec's.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SPEC = 'docs/algorithm.md';

/** Folders that are not part of a fresh clone (.gitignore) or hold other projects' files. */
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'coverage', 'cdk.out', 'output']);
const SCANNED_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.py', '.sh', '.md']);

function repositoryFiles(dir = ROOT): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.') || SKIPPED_DIRS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...repositoryFiles(path));
    else if (SCANNED_EXTENSIONS.has(extname(name))) out.push(relative(ROOT, path).split(sep).join('/'));
  }
  return out.sort();
}

export interface SpecSection {
  id: string;
  /** Numbers of the top-level numbered list items in the section's own text (before any sub-heading). */
  items: Set<number>;
}

/** Sections of the spec by number: `## 7. Title` → 7, `### 7.3 Title` → 7.3. */
export function specSections(markdown: string): Map<string, SpecSection> {
  const sections = new Map<string, SpecSection>();
  let current: SpecSection | null = null;
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    if (inFence) continue;
    const heading = /^#{1,6}\s/.test(line);
    const numbered = /^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s/.exec(line);
    if (heading) {
      current = numbered ? { id: numbered[1], items: new Set() } : null;
      if (current) sections.set(current.id, current);
      continue;
    }
    const item = /^(\d+)\.\s/.exec(line);
    if (item && current) current.items.add(Number(item[1]));
  }
  return sections;
}

export interface Citation {
  file: string;
  line: number;
  section: string;
  /** `item` / `step` numbers cited inside the section, if any. */
  items: number[];
  text: string;
}

/** Words that, right before a `§`, say it belongs to another document. */
const FOREIGN_DOCUMENT = /(?:paper|binary format,|webassembly(?: spec)?)\s*$/i;
/** Earlier references of the same list (`§4.1, `, `§7.2–`), skipped when looking back. */
const TRAILING_REFERENCES = /(?:§\s?[\w.]+(?:\s+(?:items?|steps?)\s+[\d–-]+)?\s*(?:,|and|–|-|\/)?\s*)+$/;

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** The spec citations in one file's text. */
export function citationsIn(file: string, text: string): Citation[] {
  const out: Citation[] = [];
  text.split('\n').forEach((lineText, i) => {
    const ref = /§\s?(\d+(?:\.\d+)*[a-z]?)(?:\s*[–-]\s*§?\s?(\d+(?:\.\d+)*))?(?:\s+(?:items?|steps?)\s+(\d+)(?:\s*[–-]\s*(\d+))?)?/g;
    for (let m = ref.exec(lineText); m !== null; m = ref.exec(lineText)) {
      const before = lineText.slice(0, m.index).replace(TRAILING_REFERENCES, '');
      if (FOREIGN_DOCUMENT.test(before)) continue;
      const items = m[3] === undefined ? [] : range(Number(m[3]), Number(m[4] ?? m[3]));
      const base = { file, line: i + 1, items, text: lineText.trim() };
      out.push({ ...base, section: m[1] });
      if (m[2] !== undefined) out.push({ ...base, section: m[2], items: [] });
    }
  });
  return out;
}

/** One line per citation that names a missing section or item. */
export function unresolvedCitations(citations: readonly Citation[], sections: Map<string, SpecSection>): string[] {
  const problems: string[] = [];
  for (const c of citations) {
    const section = sections.get(c.section);
    if (!section) problems.push(`${c.file}:${c.line}: §${c.section} is not a section of ${SPEC}: ${c.text}`);
    else {
      for (const item of c.items) {
        if (!section.items.has(item)) problems.push(`${c.file}:${c.line}: §${c.section} has no item ${item}: ${c.text}`);
      }
    }
  }
  return problems;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const h = inFence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const slug = h[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Relative link targets of a markdown text (inline links and images), outside code. */
export function markdownLinks(markdown: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  let inFence = false;
  markdown.split('\n').forEach((line, i) => {
    if (line.startsWith('```')) inFence = !inFence;
    if (inFence) return;
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      out.push({ target, line: i + 1 });
    }
  });
  return out;
}

/** One line per link that leaves the repository or names a missing file or anchor. */
export function brokenLinks(file: string, markdown: string, root: string, read: (path: string) => string | null): string[] {
  const problems: string[] = [];
  for (const { target, line } of markdownLinks(markdown)) {
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = pathPart === '' ? file : relative(root, resolve(root, dirname(file), decodeURIComponent(pathPart))).split(sep).join('/');
    if (path.startsWith('..') || resolve(root, path) === resolve(root, '..')) {
      problems.push(`${file}:${line}: ${target} points outside the repository`);
      continue;
    }
    const content = read(path);
    if (content === null) {
      problems.push(`${file}:${line}: ${target} does not exist (${path})`);
      continue;
    }
    if (anchor && path.endsWith('.md') && !headingAnchors(content).has(anchor)) {
      problems.push(`${file}:${line}: ${target}: ${path} has no heading #${anchor}`);
    }
  }
  return problems;
}

function readInRepo(path: string): string | null {
  const full = join(ROOT, path);
  if (!existsSync(full)) return null;
  return statSync(full).isDirectory() ? '' : readFileSync(full, 'utf8');
}

describe('the spec citations checker', () => {
  const spec = specSections(['# Title', '## 3. Costs', '1. one', '2. two', '### 3.1 Sub', '## 12. Limits', '1. first'].join('\n'));

  it('reads sections and their numbered items', () => {
    expect([...spec.keys()]).toEqual(['3', '3.1', '12']);
    expect([...spec.get('3')!.items]).toEqual([1, 2]);
  });

  it('fails on a citation of a missing section or item', () => {
    const text = ['// algorithm.md §3.1 and §12 item 1: fine', '// docs/algorithm.md §7.3: missing', '/* §3 item 4 */', '// §3.1–§3.2'].join('\n');
    expect(unresolvedCitations(citationsIn('x.ts', text), spec)).toEqual([
      'x.ts:2: §7.3 is not a section of docs/algorithm.md: // docs/algorithm.md §7.3: missing',
      'x.ts:3: §3 has no item 4: /* §3 item 4 */',
      'x.ts:4: §3.2 is not a section of docs/algorithm.md: // §3.1–§3.2',
    ]);
  });

  it('reads ranges and lists, and leaves references to other documents alone', () => {
    const found = (line: string) => citationsIn('x.ts', line).map((c) => [c.section, c.items]);
    expect(found('(spec §1.2–1.3, and §7.2 steps 4–6)')).toEqual([
      ['1.2', []],
      ['1.3', []],
      ['7.2', [4, 5, 6]],
    ]);
    expect(found('the paper §4.1, §4.2.1 and WebAssembly (binary format, §5), but spec §9')).toEqual([['9', []]]);
  });
});

describe('the markdown links checker', () => {
  const files: Record<string, string> = { 'README.md': '## Quick start\n## Quick start', 'docs/a.md': '' };
  const read = (p: string) => files[p] ?? null;

  it('fails on links that leave the repository or name a missing file or heading', () => {
    const md = [
      '[ok](docs/a.md) [up](../other-checkout/spec.md) [gone](docs/b.md) [anchor](#quick-start-1) [bad](#nope)',
      '`[code](../x.md)` [web](https://example.com)',
    ].join('\n');
    expect(brokenLinks('README.md', md, '/repo', read)).toEqual([
      'README.md:1: ../other-checkout/spec.md points outside the repository',
      'README.md:1: docs/b.md does not exist (docs/b.md)',
      'README.md:1: #nope: README.md has no heading #nope',
    ]);
  });
});

describe('the repository', () => {
  const files = repositoryFiles();
  const sections = specSections(readFileSync(join(ROOT, SPEC), 'utf8'));

  it(`cites only sections of ${SPEC} that exist`, () => {
    // This file's own examples cite missing sections on purpose.
    const sources = files.filter((f) => f !== 'test/docs-links.test.ts');
    const citations = sources.flatMap((f) => citationsIn(f, readFileSync(join(ROOT, f), 'utf8')));
    // The scan must see the engine's citations, or it checks nothing.
    expect(citations.filter((c) => c.file.startsWith('gpu-runner/src/engine/')).length).toBeGreaterThan(100);
    expect(unresolvedCitations(citations, sections)).toEqual([]);
  });

  it('has markdown links that resolve inside the repository', () => {
    const markdown = files.filter((f) => f.endsWith('.md'));
    expect(markdown).toContain('README.md');
    expect(markdown).toContain(SPEC);
    expect(markdown.flatMap((f) => brokenLinks(f, readFileSync(join(ROOT, f), 'utf8'), ROOT, readInRepo))).toEqual([]);
  });

  it('never refers to the shared folder outside the repository', () => {
    const offenders = files.filter((f) => /(?:\.\.\/)+shared\/|shared\/docs\//.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
