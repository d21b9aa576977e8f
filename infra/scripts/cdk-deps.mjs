#!/usr/bin/env node
// Installs infra/cdk's own dependencies (aws-cdk-lib, constructs, the cdk CLI: about 210 MB, kept out of
// the root workspaces so the app's `npm ci` stays small) when they are missing or older than its lock.
// `npm test` and `npm run typecheck` run this first, so a fresh clone needs nothing else; afterwards it
// costs one hash of the lock file.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cdk = join(dirname(fileURLToPath(import.meta.url)), '../cdk');
const lock = join(cdk, 'package-lock.json');
const stamp = join(cdk, 'node_modules/.clafusion-lock-sha256');
const want = createHash('sha256').update(readFileSync(lock)).digest('hex');

if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want && existsSync(join(cdk, 'node_modules/aws-cdk-lib/package.json'))) process.exit(0);

console.error('$ npm ci --prefix infra/cdk   (the cloud stack\'s own dependencies)');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const r = spawnSync(npm, ['ci', '--prefix', cdk, '--no-audit', '--no-fund'], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
writeFileSync(stamp, `${want}\n`);
