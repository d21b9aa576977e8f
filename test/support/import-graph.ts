/**
 * The package boundaries of the repository, checked from the sources: a
 * small import walker (no dependency) that reads every module of every
 * workspace, resolves its imports, and reports
 *
 * - a relative import whose target lies in another package (packages are
 *   reached by name only: `@clafusion/contract`, never `../../api/contract/src`),
 *   or outside every package (only tests may reach the shared test harness,
 *   testsupport/ and test/support/);
 * - an import of a package by name that is not an allowed edge of the layer
 *   table (docs: README "Repository layout") or not declared in the
 *   importer's package.json;
 * - a cycle between packages;
 * - a layer break inside gpu-runner (the engine importing io/pipeline/worker
 *   or any of the contract but its options declaration, the pipeline
 *   importing the worker or the CLI).
 *
 * The checks are pure functions of a graph (`checkGraph`), so a test can feed
 * them a synthetic graph with a violation and see them fail.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface PackageInfo {
  /** Package name (`@clafusion/contract`), or `app` for the composition root. */
  name: string;
  /** Folder, relative to the repository root, with forward slashes. */
  dir: string;
  /** The `@clafusion/*` packages its package.json lists as devDependencies (for its scripts and tests). */
  devDeps: string[];
  /** The `@clafusion/*` packages its package.json lists as dependencies. */
  deps: string[];
  /** Its `exports` map: subpath -> file relative to `dir`. */
  exports: Record<string, string>;
}

export interface ModuleImport {
  specifier: string;
  /** `import type` / `export type`: erased at run time (still counts for the package boundary). */
  typeOnly: boolean;
  /** `import('...')` rather than a static import. */
  dynamic: boolean;
}

export interface SourceGraph {
  packages: PackageInfo[];
  /** Module path (relative to the repository root) -> its imports. */
  modules: Map<string, ModuleImport[]>;
}

export interface Violation {
  rule: 'cross-package-relative' | 'edge-not-allowed' | 'undeclared-dependency' | 'package-cycle' | 'layer';
  message: string;
}

/** Who may import whom (architecture: "Layers and who may import whom"). */
export const ALLOWED_EDGES: Record<string, string[]> = {
  '@clafusion/contract': [],
  '@clafusion/model-format': [],
  '@clafusion/api': ['@clafusion/contract', '@clafusion/model-format'],
  '@clafusion/gpu-runner': ['@clafusion/contract', '@clafusion/model-format'],
  '@clafusion/sdk': ['@clafusion/contract'],
  app: ['@clafusion/api', '@clafusion/gpu-runner', '@clafusion/contract', '@clafusion/model-format'],
};

/**
 * Edges allowed only to a package's dev-time code (its scripts/ and tests),
 * declared as devDependencies: the SDK's type generator reads the server's
 * router to generate the types the published package carries instead.
 */
export const DEV_EDGES: Record<string, string[]> = {
  '@clafusion/sdk': ['@clafusion/api'],
};

/** Layers inside gpu-runner's sources: a module under the key may not import one under any listed folder. */
const GPU_RUNNER_LAYERS: Record<string, string[]> = {
  'gpu-runner/src/engine/': ['gpu-runner/src/io/', 'gpu-runner/src/pipeline/', 'gpu-runner/src/worker/', 'gpu-runner/src/cli/', 'gpu-runner/src/report/'],
  'gpu-runner/src/pipeline/': ['gpu-runner/src/worker/', 'gpu-runner/src/cli/'],
};

const IMPORT =
  /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|new URL\(\s*['"](\.[^'"]+)['"]\s*,\s*import\.meta\.url/gm;

/** The imports of one module's source text. */
export function parseImports(source: string): ModuleImport[] {
  const out: ModuleImport[] = [];
  for (const m of source.matchAll(IMPORT)) {
    if (m[3] !== undefined) out.push({ specifier: m[3], typeOnly: m[2] !== undefined, dynamic: false });
    else if (m[4] !== undefined) out.push({ specifier: m[4], typeOnly: false, dynamic: true });
    else if (m[5] !== undefined) out.push({ specifier: m[5], typeOnly: false, dynamic: true });
  }
  return out;
}

/** The package a path lies in: the one with the deepest folder containing it (null: outside every package). */
export function ownerOf(packages: PackageInfo[], path: string): PackageInfo | null {
  let best: PackageInfo | null = null;
  for (const p of packages) if (path.startsWith(`${p.dir}/`) && (best === null || p.dir.length > best.dir.length)) best = p;
  return best;
}

/** `@clafusion/contract/ports` -> `@clafusion/contract`. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const posix = (p: string) => p.split('\\').join('/');
const isTestModule = (file: string) => /\.(test|fixture)\.ts$/.test(file);

export function checkGraph(graph: SourceGraph): Violation[] {
  const violations: Violation[] = [];
  const names = new Set(graph.packages.map((p) => p.name));
  const edges = new Map<string, Set<string>>(graph.packages.map((p) => [p.name, new Set<string>()]));
  for (const [file, imports] of graph.modules) {
    const from = ownerOf(graph.packages, file);
    if (from === null) continue;
    for (const imp of imports) {
      if (imp.specifier.startsWith('.')) {
        const target = posix(join(dirname(file), imp.specifier));
        const to = ownerOf(graph.packages, target);
        // Tests may use the repository's shared test harness (testsupport/, test/support/), which is no package.
        if (to !== from && !(to === null && isTestModule(file))) {
          violations.push({
            rule: 'cross-package-relative',
            message: `${file} imports '${imp.specifier}', a path inside ${to?.name ?? 'no package'}; import ${to ? `${to.name} by name` : 'it through a package'}`,
          });
        }
        for (const [layer, banned] of Object.entries(GPU_RUNNER_LAYERS)) {
          if (!file.startsWith(layer) || isTestModule(file)) continue;
          const hit = banned.find((b) => target.startsWith(b));
          if (hit) violations.push({ rule: 'layer', message: `${file} (${layer}) imports ${target} (${hit})` });
        }
        continue;
      }
      const name = packageNameOf(imp.specifier);
      // The engine is pure: of the contract it reads only the options declaration (data, no zod, no I/O).
      if (file.startsWith('gpu-runner/src/engine/') && name === '@clafusion/contract' && imp.specifier !== '@clafusion/contract/options' && !isTestModule(file)) {
        violations.push({ rule: 'layer', message: `${file} (gpu-runner/src/engine/) imports ${imp.specifier}; the engine reads only @clafusion/contract/options` });
      }
      if (!names.has(name) || name === from.name) continue;
      const devTime = isTestModule(file) || file.startsWith(`${from.dir}/scripts/`);
      if (devTime && (DEV_EDGES[from.name] ?? []).includes(name)) {
        if (!from.devDeps.includes(name)) violations.push({ rule: 'undeclared-dependency', message: `${file} imports ${name}, which ${from.dir}/package.json does not list in devDependencies` });
        continue;
      }
      edges.get(from.name)!.add(name);
      if (!(ALLOWED_EDGES[from.name] ?? []).includes(name)) {
        violations.push({ rule: 'edge-not-allowed', message: `${file}: ${from.name} may not import ${name} (allowed: ${(ALLOWED_EDGES[from.name] ?? []).join(', ') || 'nothing'})` });
      }
      if (from.name !== 'app' && !from.deps.includes(name) && !(devTime && from.devDeps.includes(name))) {
        violations.push({ rule: 'undeclared-dependency', message: `${file} imports ${name}, which ${from.dir}/package.json does not list` });
      }
    }
  }
  for (const cycle of packageCycles(edges)) violations.push({ rule: 'package-cycle', message: `packages import each other: ${cycle.join(' -> ')}` });
  return violations;
}

/** Every cycle found by a depth-first walk of the package edges (each reported once, as a closed path). */
export function packageCycles(edges: Map<string, Set<string>>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...edges.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

// ---------------------------------------------------------------- the repository

function sourceFiles(dir: string, skip: Set<string>): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry === 'node_modules' || entry.startsWith('.') || skip.has(path)) continue;
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path, skip));
    else if (/\.(ts|mts|mjs|js)$/.test(entry)) out.push(path);
  }
  return out;
}

/** The workspaces of the root package.json plus the composition root `app/`. */
export function repositoryPackages(root: string): PackageInfo[] {
  const rootJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  const packages: PackageInfo[] = rootJson.workspaces.map((dir) => {
    const json = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
      exports?: Record<string, string>;
    };
    const ours = (m?: Record<string, string>) => Object.keys(m ?? {}).filter((d) => d.startsWith('@clafusion/'));
    return { name: json.name, dir, deps: ours(json.dependencies), devDeps: ours(json.devDependencies), exports: json.exports ?? {} };
  });
  packages.push({ name: 'app', dir: 'app', deps: [], devDeps: [], exports: {} });
  return packages;
}

export function repositoryGraph(root: string): SourceGraph {
  const packages = repositoryPackages(root);
  const modules = new Map<string, ModuleImport[]>();
  for (const p of packages) {
    // A package's folder holds its nested workspaces (api/contract in api): those are theirs.
    const nested = new Set(packages.filter((q) => q.dir.startsWith(`${p.dir}/`)).map((q) => join(root, q.dir)));
    for (const file of sourceFiles(join(root, p.dir), nested)) {
      modules.set(posix(relative(root, file)), parseImports(readFileSync(file, 'utf8')));
    }
  }
  return { packages, modules };
}

/**
 * What a process loads when it starts at `entry` (repository-relative):
 * every module reached by static, value (non-type) imports, following
 * `@clafusion/*` imports through their packages' exports maps, and the
 * npm packages it names. Dynamic imports are left out (they load on demand).
 */
export function staticClosure(root: string, entry: string): { modules: Set<string>; npm: Set<string> } {
  const packages = repositoryPackages(root);
  const modules = new Set<string>();
  const npm = new Set<string>();
  const visit = (file: string) => {
    if (modules.has(file)) return;
    modules.add(file);
    for (const imp of parseImports(readFileSync(join(root, file), 'utf8'))) {
      if (imp.typeOnly || imp.dynamic) continue;
      if (imp.specifier.startsWith('.')) {
        visit(posix(join(dirname(file), imp.specifier)));
        continue;
      }
      const name = packageNameOf(imp.specifier);
      const pkg = packages.find((p) => p.name === name);
      if (!pkg) {
        npm.add(imp.specifier);
        continue;
      }
      const subpath = `.${imp.specifier.slice(name.length)}`;
      const target = pkg.exports[subpath];
      if (target === undefined) throw new Error(`${file}: ${imp.specifier} is not in ${pkg.dir}/package.json exports`);
      const path = posix(join(pkg.dir, target));
      if (!existsSync(join(root, path))) throw new Error(`${pkg.dir}/package.json exports ${subpath} -> ${target}, which does not exist`);
      visit(path);
    }
  };
  visit(posix(entry));
  return { modules, npm };
}

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
