/**
 * `npm run build -w sdk`: compiles src/ to dist/ (ESM JavaScript and .d.ts)
 * with tsc. The sources import each other with `.ts` extensions; tsc
 * rewrites them to `.js` in the JavaScript but keeps them in declarations,
 * so they are rewritten here too: a consumer's compiler then resolves every
 * relative import of the declarations to a file in the package, with no
 * `allowImportingTsExtensions` needed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
execFileSync('tsc', ['-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', shell: process.platform === 'win32' });

const RELATIVE_TS = /((?:from|import)\s*\(?\s*['"])(\.\.?\/[^'"]*?)\.ts(['"])/g;
for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.d.ts')) continue;
  const path = join(dist, file);
  const text = readFileSync(path, 'utf8');
  const fixed = text.replace(RELATIVE_TS, '$1$2.js$3');
  if (fixed !== text) writeFileSync(path, fixed);
}
