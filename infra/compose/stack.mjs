#!/usr/bin/env node
// npm run stack:up | stack:down | stack:key -- TENANT   (the local compose stack, infra/compose/compose.yaml)
//   up    build the images and start everything; returns once every service is healthy (docker compose --wait)
//   down  stop and remove the containers (pass --volumes to delete the stored data as well)
//   key   make an API key for TENANT in the stack's MinIO bucket and print it once; it runs this
//         checkout's key tool on the host against MinIO's published port, with the compose defaults
// Extra arguments go to docker compose (up/down) unchanged.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const composeFile = join(root, 'infra/compose/compose.yaml');
const [command, ...rest] = process.argv.slice(2);

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env });
  if (r.error) {
    console.error(r.error.code === 'ENOENT' ? `${cmd} is not installed (the stack needs Docker with the compose plugin)` : r.error.message);
    process.exit(1);
  }
  process.exit(r.status ?? 1);
}

if (command === 'up') run('docker', ['compose', '-f', composeFile, 'up', '--detach', '--build', '--wait', ...rest]);
else if (command === 'down') run('docker', ['compose', '-f', composeFile, 'down', ...rest]);
else if (command === 'key' && rest[0] && !rest[0].startsWith('-')) {
  run(process.execPath, ['--import', 'tsx', join(root, 'api/src/cli/keys.ts'), 'create', '--tenant', rest[0], '--label', 'compose stack'], {
    ...process.env,
    S3_BUCKET: process.env.S3_BUCKET || 'clafusion',
    S3_ENDPOINT: `http://127.0.0.1:${process.env.MINIO_PORT || '9000'}`,
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: process.env.MINIO_ROOT_USER || 'clafusion',
    S3_SECRET_ACCESS_KEY: process.env.MINIO_ROOT_PASSWORD || 'clafusion-local-only',
  });
} else {
  console.error('usage: node infra/compose/stack.mjs up|down [docker compose args] | key TENANT');
  process.exit(2);
}
