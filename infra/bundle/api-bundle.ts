/**
 * One esbuild bundle of the API for each place it runs without the
 * workspace: the Lambda function (entry `lambda`: api/src/lambda.ts) and the
 * API container (entry `server`: api/src/main.ts), plus the small Lambda that
 * publishes the queue depth (entry `queue-depth`). One ESM file each, with
 * every npm dependency inside, so neither target needs node_modules, tsx or
 * a TypeScript step at run time.
 *
 * The engine never enters these bundles: the API package does not import
 * gpu-runner (the in-process runner is injected by app/start.ts, which is
 * not bundled), and api/src/main.ts run on its own refuses RUNNERS above
 * zero with a message that says to set RUNNERS=0 and run the runner image.
 * A test checks that no @tensorflow module is inside.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const ENTRIES = {
  lambda: 'api/src/lambda.ts',
  server: 'api/src/main.ts',
  'queue-depth': 'infra/cdk/lambda/queue-depth.ts',
} as const;
export type BundleEntry = keyof typeof ENTRIES;

/** Node versions of the targets: Lambda runs nodejs22.x, the API image Node 20. */
const TARGET: Record<BundleEntry, string> = { lambda: 'node22', server: 'node20', 'queue-depth': 'node22' };

export interface BundleResult {
  /** The bundle's folder (what a Lambda asset or a COPY takes). */
  dir: string;
  /** The .mjs file inside it. */
  file: string;
  /** Every input file that went into the bundle, relative to the repository. */
  inputs: string[];
}

export async function bundle(entry: BundleEntry, outdir: string): Promise<BundleResult> {
  mkdirSync(outdir, { recursive: true });
  const file = join(outdir, 'index.mjs');
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [join(REPO_ROOT, ENTRIES[entry])],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: TARGET[entry],
    // Stable output: the Lambda asset hash (and so a deploy) changes only when the code does.
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    // CommonJS dependencies (bullmq, ioredis, the AWS SDK) call require() for Node built-ins.
    banner: { js: "import { createRequire as __cfRequire } from 'node:module'; const require = __cfRequire(import.meta.url);" },
    // msgpackr-extract is a native speed-up that msgpackr (via bullmq) loads only if present; it falls back to JS.
    external: ['msgpackr-extract'],
  });
  return { dir: outdir, file, inputs: Object.keys(result.metafile.inputs) };
}

// `node --import tsx infra/bundle/api-bundle.ts server OUTDIR` (the API image's build stage).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [entry, outdir] = process.argv.slice(2);
  if (!(entry in ENTRIES) || !outdir) {
    console.error(`usage: node --import tsx infra/bundle/api-bundle.ts ${Object.keys(ENTRIES).join('|')} OUTDIR`);
    process.exit(2);
  }
  const { file, inputs } = await bundle(entry as BundleEntry, resolve(outdir));
  console.log(`${file} (${inputs.length} input files)`);
}
