/**
 * The API never loads tfjs: its static import graph (and that of the runner's
 * main thread, which the embedded API process hosts) is walked from the entry
 * points, and no module on it may import a tensor backend. The engine is
 * reached only by the fusion thread (gpu-runner/src/worker/fusion-thread.ts),
 * which is started as a worker, never imported.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// `import type` / `export type` are erased at run time and do not count.
const STATIC_IMPORT = /^\s*(?:import|export)\s+(?!type\s)[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;

function walk(entry: string): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (modules.has(file)) return;
    modules.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else packages.add(spec);
    }
  };
  visit(resolve(import.meta.dirname, entry));
  return { modules, packages };
}

describe('import graph', () => {
  for (const entry of ['main.ts', 'cli/keys.ts', 'http/app.ts', '../../gpu-runner/src/worker/index.ts', '../../gpu-runner/src/worker/main.ts']) {
    it(`${entry} does not import tfjs`, () => {
      const { modules, packages } = walk(entry);
      expect([...packages].filter((p) => p.startsWith('@tensorflow/'))).toEqual([]);
      expect([...modules].filter((f) => /gpu-runner\/src\/(runtime|pipeline|engine\/nn)\//.test(f) || f.endsWith('fusion-thread.ts'))).toEqual([]);
    });
  }

  it('sees through to the engine modules the API does use (the walk works)', () => {
    const { modules } = walk('main.ts');
    expect([...modules].some((f) => f.endsWith('gpu-runner/src/io/naming.ts'))).toBe(true);
    expect([...modules].some((f) => f.endsWith('gpu-runner/src/engine/arch.ts'))).toBe(true);
  });
});
