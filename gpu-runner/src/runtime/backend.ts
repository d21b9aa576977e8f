/**
 * Chooses and initialises the tfjs backend for a runner process.
 *
 * Preference, best first: `@tensorflow/tfjs-node-gpu` (CUDA image),
 * `@tensorflow/tfjs-node` (CPU servers), `@tensorflow/tfjs` with the wasm
 * backend (the embedded default: SIMD, one thread in Node), and finally the
 * pure-JS cpu backend. `CLAFUSION_BACKEND=node-gpu|node|wasm|cpu` forces one;
 * a forced backend that cannot load is an error, never a silent downgrade,
 * because a deployment that asked for the GPU and quietly got wasm would be
 * ~100× slower with nothing in the logs to say why.
 *
 * This is runtime code: it reads the environment. Engine code never does; it
 * imports `@tensorflow/tfjs` and uses whatever backend was selected here.
 * That works because tfjs keeps its engine and kernel registry on
 * `globalThis`, and because the node packages re-export the very
 * `@tensorflow/tfjs` the engine imports — checked below, since a second copy
 * of tfjs-core in node_modules would create tensors the engine's ops reject.
 */
import * as tf from '@tensorflow/tfjs';
import { FusionError } from '@clafusion/model-format/errors';
import { registerWasmTrainingKernels } from './wasm-kernels/index.ts';

export type BackendName = 'node-gpu' | 'node' | 'wasm' | 'cpu';
export type Tf = typeof tf;

export const BACKEND_NAMES: readonly BackendName[] = ['node-gpu', 'node', 'wasm', 'cpu'];

export interface Backend {
  name: BackendName;
  /** The `@tensorflow/tfjs` namespace, now running on the chosen backend. */
  tf: Tf;
  /** One line for logs and reports, e.g. "wasm (tfjs 4.22.0, SIMD, 1 thread)". */
  detail: string;
  /** Backends tried before this one in automatic mode, with why each was skipped. */
  skipped: { name: BackendName; reason: string }[];
}

export interface BackendOptions {
  /** Environment to read `CLAFUSION_BACKEND` from; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
  /**
   * Module loader, `import()` by default. Tests substitute it to simulate
   * packages that are absent here (the node addons).
   */
  importModule?: (specifier: string) => Promise<unknown>;
}

const NODE_PACKAGES: Record<'node-gpu' | 'node', string> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
};

/** Parses `CLAFUSION_BACKEND`; undefined or empty means automatic. */
export function backendFromEnv(env: Record<string, string | undefined>): BackendName | undefined {
  const raw = env.CLAFUSION_BACKEND?.trim();
  if (raw === undefined || raw === '') return undefined;
  if ((BACKEND_NAMES as readonly string[]).includes(raw)) return raw as BackendName;
  throw new FusionError(
    'INVALID_ARGUMENT',
    `CLAFUSION_BACKEND must be one of ${BACKEND_NAMES.join(', ')}, got ${JSON.stringify(raw)}`,
    { field: 'CLAFUSION_BACKEND', value: raw },
  );
}

/**
 * Selects, loads and activates a backend. Safe to call again: the last call
 * decides which backend the process's tfjs uses.
 */
export async function initBackend(options: BackendOptions = {}): Promise<Backend> {
  const env = options.env ?? process.env;
  const importModule = options.importModule ?? ((s: string) => import(s));
  const forced = backendFromEnv(env);

  if (forced !== undefined) {
    try {
      return { ...(await activate(forced, importModule)), skipped: [] };
    } catch (e) {
      throw new FusionError(
        'UNSUPPORTED',
        `CLAFUSION_BACKEND=${forced} was requested but that backend cannot be used: ${firstLine(e)}`,
        { field: 'CLAFUSION_BACKEND', backend: forced, cause: firstLine(e) },
      );
    }
  }

  const skipped: { name: BackendName; reason: string }[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      return { ...(await activate(name, importModule)), skipped };
    } catch (e) {
      skipped.push({ name, reason: firstLine(e) });
    }
  }
  throw new FusionError('UNSUPPORTED', `no tfjs backend could be initialised: ${describeSkipped(skipped)}`, {
    skipped,
  });
}

async function activate(
  name: BackendName,
  importModule: (s: string) => Promise<unknown>,
): Promise<Omit<Backend, 'skipped'>> {
  switch (name) {
    case 'node-gpu':
    case 'node':
      return activateNode(name, importModule);
    case 'wasm':
      return activateWasm(importModule);
    case 'cpu':
      return activateCpu();
  }
}

async function activateNode(
  name: 'node-gpu' | 'node',
  importModule: (s: string) => Promise<unknown>,
): Promise<Omit<Backend, 'skipped'>> {
  const pkg = NODE_PACKAGES[name];
  // Importing the package loads the native addon and registers the
  // 'tensorflow' backend; a missing package or addon throws here.
  type NodeModule = { Tensor?: unknown; version?: Record<string, string>; default?: NodeModule };
  const imported = (await importModule(pkg)) as NodeModule;
  // The packages are CommonJS: Node exposes their exports as named exports
  // when it can detect them statically, and always under `default`.
  const mod = imported.Tensor === undefined && imported.default !== undefined ? imported.default : imported;
  const shared = mod.Tensor === tf.Tensor && tf.findBackend('tensorflow') !== null;
  if (!shared) {
    throw new Error(
      `${pkg} loaded a different copy of @tensorflow/tfjs-core than @tensorflow/tfjs ${tf.version_core}; ` +
        'align their versions so npm installs a single tfjs-core',
    );
  }
  await setAndCheck('tensorflow');
  const versions = mod.version ?? {};
  const tfVersion = versions['tensorflow'] !== undefined ? `, TensorFlow ${versions['tensorflow']}` : '';
  return { name, tf, detail: `${name} (${pkg} ${versions[pkg.slice('@tensorflow/'.length)] ?? '?'}${tfVersion})` };
}

async function activateWasm(importModule: (s: string) => Promise<unknown>): Promise<Omit<Backend, 'skipped'>> {
  // Importing registers the 'wasm' backend; in Node the .wasm binaries load
  // from the package's dist/ folder, so no setWasmPaths is needed.
  const wasm = (await importModule('@tensorflow/tfjs-backend-wasm')) as { getThreadsCount?: () => number };
  await setAndCheck('wasm');
  // Stock wasm lacks the conv gradient kernels (and its MaxPoolGrad and
  // Conv2DBackpropInput are slow scalar loops), so VGG/ResNet training would
  // fail or crawl without these. Idempotent.
  registerWasmTrainingKernels();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = wasm.getThreadsCount?.() ?? 1;
  return {
    name: 'wasm',
    tf,
    detail: `wasm (tfjs ${tf.version_core}, ${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})`,
  };
}

async function activateCpu(): Promise<Omit<Backend, 'skipped'>> {
  await setAndCheck('cpu');
  // The cpu backend prints a "Hi, looks like you are running TensorFlow.js in
  // Node.js" banner on its first tensor write. Choosing cpu here is
  // deliberate, so the advice is noise; clearing the backend's first-use flag
  // silences just that banner. tf.enableProdMode() would also do it, but it
  // mutes every other tfjs warning as well.
  const backend = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (backend !== null && 'firstUse' in backend) backend.firstUse = false;
  return { name: 'cpu', tf, detail: `cpu (tfjs ${tf.version_core}, pure JavaScript)` };
}

async function setAndCheck(backendName: string): Promise<void> {
  const ok = await tf.setBackend(backendName);
  await tf.ready();
  if (!ok || tf.getBackend() !== backendName) {
    throw new Error(`tf.setBackend('${backendName}') failed (active backend: ${tf.getBackend()})`);
  }
}

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0];
}

function describeSkipped(skipped: { name: BackendName; reason: string }[]): string {
  return skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
}
