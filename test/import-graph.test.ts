/**
 * The package boundaries hold (test/support/import-graph.ts): packages reach
 * each other by name only, along the allowed edges, without cycles; and the
 * API never loads tfjs: the static graph of its entry points (and of the
 * runner's main thread, which the embedded API process hosts) holds no
 * tensor backend. The engine is reached only by the fusion thread
 * (gpu-runner/src/worker/fusion-thread.ts), which is started as a worker,
 * never imported.
 */
import { describe, expect, it } from 'vitest';
import {
  ALLOWED_EDGES,
  type ModuleImport,
  type PackageInfo,
  REPO_ROOT,
  type SourceGraph,
  checkGraph,
  parseImports,
  repositoryGraph,
  repositoryPackages,
  staticClosure,
} from './support/import-graph.ts';

describe('the repository', () => {
  const graph = repositoryGraph(REPO_ROOT);

  it('has every package of the layer table as a workspace, and reads their modules', () => {
    const names = graph.packages.map((p) => p.name).sort();
    expect(names).toEqual(Object.keys(ALLOWED_EDGES).sort());
    for (const p of graph.packages) expect([...graph.modules.keys()].some((f) => f.startsWith(`${p.dir}/`)), p.name).toBe(true);
    // Nested workspaces are theirs, not their parent's.
    expect(graph.modules.has('api/contract/src/index.ts')).toBe(true);
  });

  it('has no cross-package relative import, no edge outside the layer table, no undeclared dependency, no cycle', () => {
    expect(checkGraph(graph).map((v) => v.message)).toEqual([]);
  });

  it('uses the package names it declares (the edges are real, not decorative)', () => {
    const imported = new Set<string>();
    for (const [, imports] of graph.modules) for (const i of imports) if (i.specifier.startsWith('@clafusion/')) imported.add(i.specifier.split('/').slice(0, 2).join('/'));
    expect([...imported].sort()).toEqual(['@clafusion/api', '@clafusion/contract', '@clafusion/gpu-runner', '@clafusion/model-format']);
  });

  for (const entry of ['api/src/main.ts', 'api/src/lambda.ts', 'api/src/cli/keys.ts', 'api/src/http/app.ts', 'gpu-runner/src/worker/index.ts', 'app/runner.ts', 'app/start.ts']) {
    it(`${entry} does not import tfjs`, () => {
      const { modules, npm } = staticClosure(REPO_ROOT, entry);
      expect([...npm].filter((p) => p.startsWith('@tensorflow/'))).toEqual([]);
      // runtime/record-runtime.ts only names the recording runtimes and parses RUNNER_RECORD_RUNTIME
      // (no tfjs, no onnxruntime): the worker's main thread checks that setting before taking jobs.
      const pure = new Set(['gpu-runner/src/runtime/record-runtime.ts']);
      expect([...modules].filter((f) => !pure.has(f) && (/gpu-runner\/src\/(runtime|pipeline|engine\/nn)\//.test(f) || f.endsWith('fusion-thread.ts')))).toEqual([]);
    });
  }

  it('sees through package names to the model-format modules the API does use (the walk works)', () => {
    const { modules } = staticClosure(REPO_ROOT, 'api/src/main.ts');
    expect(modules.has('gpu-runner/model-format/src/naming.ts')).toBe(true);
    expect(modules.has('gpu-runner/model-format/src/arch.ts')).toBe(true);
    expect(modules.has('api/contract/src/index.ts')).toBe(true);
    expect([...modules].some((f) => f.startsWith('gpu-runner/src/'))).toBe(false);
  });
});

describe('the checks, on synthetic graphs', () => {
  const pkg = (name: string, dir: string, deps: string[] = [], devDeps: string[] = []): PackageInfo => ({ name, dir, deps, devDeps, exports: { '.': './src/index.ts' } });
  const imp = (specifier: string): ModuleImport => ({ specifier, typeOnly: false, dynamic: false });
  const packages = [
    pkg('@clafusion/contract', 'api/contract'),
    pkg('@clafusion/model-format', 'gpu-runner/model-format'),
    pkg('@clafusion/api', 'api', ['@clafusion/contract', '@clafusion/model-format']),
    pkg('@clafusion/gpu-runner', 'gpu-runner', ['@clafusion/contract', '@clafusion/model-format']),
  ];
  const graphOf = (modules: Record<string, string[]>, pkgs = packages): SourceGraph => ({
    packages: pkgs,
    modules: new Map(Object.entries(modules).map(([f, specs]) => [f, specs.map(imp)])),
  });

  it('passes a clean graph', () => {
    const g = graphOf({
      'api/src/server.ts': ['./http/app.ts', '@clafusion/contract', '@clafusion/model-format/arch', 'hono'],
      'gpu-runner/src/worker/index.ts': ['@clafusion/contract/ports', '../engine/index.ts'],
      'api/contract/src/index.ts': ['./ids.ts', 'zod'],
    });
    expect(checkGraph(g)).toEqual([]);
  });

  it('fails a relative import into another package, also into a nested workspace', () => {
    const g = graphOf({
      'gpu-runner/src/worker/fusion-runner.ts': ['../../../api/src/jobs/job-log.ts'],
      'api/src/files/file-service.ts': ['../../contract/src/index.ts'],
    });
    const v = checkGraph(g);
    expect(v.map((x) => x.rule)).toEqual(['cross-package-relative', 'cross-package-relative']);
    expect(v[0].message).toContain('@clafusion/api');
    expect(v[1].message).toContain('@clafusion/contract');
  });

  it('fails an edge the layer table does not allow, and a cycle between packages', () => {
    const g = graphOf(
      {
        'api/src/server.ts': ['@clafusion/gpu-runner/worker'],
        'gpu-runner/src/worker/main.ts': ['@clafusion/api/adapters'],
      },
      packages.map((p) => (p.name === '@clafusion/api' ? { ...p, deps: [...p.deps, '@clafusion/gpu-runner'] } : p.name === '@clafusion/gpu-runner' ? { ...p, deps: [...p.deps, '@clafusion/api'] } : p)),
    );
    const v = checkGraph(g);
    expect(v.filter((x) => x.rule === 'edge-not-allowed')).toHaveLength(2);
    const cycles = v.filter((x) => x.rule === 'package-cycle');
    expect(cycles).toHaveLength(1);
    expect(cycles[0].message).toMatch(/@clafusion\/api -> @clafusion\/gpu-runner -> @clafusion\/api/);
  });

  it('lets only dev-time code (scripts/, tests) take a dev edge, and only when it is a devDependency', () => {
    const withSdk = [...packages, pkg('@clafusion/sdk', 'sdk', [], ['@clafusion/contract', '@clafusion/api'])];
    const check = (modules: Record<string, string[]>) => checkGraph(graphOf(modules, withSdk)).map((v) => v.rule);
    expect(check({ 'sdk/scripts/gen.ts': ['@clafusion/api'] })).toEqual([]);
    expect(check({ 'sdk/src/index.ts': ['@clafusion/api'] })).toEqual(['edge-not-allowed', 'undeclared-dependency']);
    const undeclared = [...packages, pkg('@clafusion/sdk', 'sdk')];
    expect(checkGraph(graphOf({ 'sdk/scripts/gen.ts': ['@clafusion/api'] }, undeclared)).map((v) => v.rule)).toEqual(['undeclared-dependency']);
  });

  it('fails an import of a package the importer does not declare', () => {
    const g = graphOf({ 'api/src/x.ts': ['@clafusion/contract'] }, packages.map((p) => (p.name === '@clafusion/api' ? { ...p, deps: [] } : p)));
    expect(checkGraph(g).map((x) => x.rule)).toEqual(['undeclared-dependency']);
  });

  it('fails the engine importing the pipeline (but not in a test) or the contract beyond its options', () => {
    const g = graphOf({
      'gpu-runner/src/engine/fusion/fuse-pair.ts': ['../../pipeline/report.ts'],
      'gpu-runner/src/engine/nn/train.test.ts': ['../../io/datasets.ts'],
      'gpu-runner/src/engine/fusion/options.ts': ['@clafusion/contract/options'],
      'gpu-runner/src/engine/fusion/otfusion.ts': ['@clafusion/contract/ports'],
    });
    expect(checkGraph(g).map((x) => x.rule)).toEqual(['layer', 'layer']);
  });

  it('parses static, type-only, multi-line, re-export, dynamic and worker-URL imports', () => {
    const src = [
      "import { a } from './a.ts';",
      "import type { B } from '@clafusion/contract';",
      'import {',
      '  c,',
      "} from '../c.ts';",
      "export * from './d.ts';",
      "import './side-effect.ts';",
      "const e = await import('./e.ts');",
      "const w = new URL('./thread.ts', import.meta.url);",
      " * import { notCode } from './comment.ts';",
    ].join('\n');
    expect(parseImports(src)).toEqual([
      { specifier: './a.ts', typeOnly: false, dynamic: false },
      { specifier: '@clafusion/contract', typeOnly: true, dynamic: false },
      { specifier: '../c.ts', typeOnly: false, dynamic: false },
      { specifier: './d.ts', typeOnly: false, dynamic: false },
      { specifier: './side-effect.ts', typeOnly: false, dynamic: false },
      { specifier: './e.ts', typeOnly: false, dynamic: true },
      { specifier: './thread.ts', typeOnly: false, dynamic: true },
    ]);
  });

  it('lists the real workspaces with their declared dependencies', () => {
    const api = repositoryPackages(REPO_ROOT).find((p) => p.name === '@clafusion/api')!;
    expect(api.deps.sort()).toEqual(['@clafusion/contract', '@clafusion/model-format']);
  });
});
