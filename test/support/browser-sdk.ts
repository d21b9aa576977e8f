/**
 * The SDK bundled for a browser page with esbuild, as an app's bundler
 * would: its Node-only imports (files from paths, streams, webhook
 * verification) become empty modules, except `randomUUID`, which browsers
 * have as `crypto.randomUUID`. Enough for the JSON calls a browser app makes.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export async function bundleSdkForBrowser(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../../sdk/src/index.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'error',
    plugins: [
      {
        name: 'node-builtins-for-browsers',
        setup(b) {
          b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-stub' }));
          b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({
            contents: args.path === 'node:crypto' ? 'module.exports = { randomUUID: () => globalThis.crypto.randomUUID() };' : 'module.exports = {};',
            loader: 'js',
          }));
        },
      },
    ],
  });
  return result.outputFiles[0].text;
}
