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
        // A browser has no node: modules. node:crypto's randomUUID (idempotency
        // keys) maps to the Web Crypto one; the rest resolve to empty modules, so
        // the SDK's Node-only parts (uploads from a file path, verifyWebhook) are
        // not available in a page: the page test calls the JSON endpoints only.
        setup(b) {
          b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'browser-builtins' }));
          b.onLoad({ filter: /.*/, namespace: 'browser-builtins' }, (args) => ({
            contents: args.path === 'node:crypto' ? 'module.exports = { randomUUID: () => globalThis.crypto.randomUUID() };' : 'module.exports = {};',
            loader: 'js',
          }));
        },
      },
    ],
  });
  return result.outputFiles[0].text;
}
