#!/usr/bin/env node
// Makes sure the Debian packages the test suite uses are present, so that
// `npm test` works on a fresh Debian machine. Missing packages are installed
// with apt-get when running as root (CI, containers); otherwise the exact
// command to run is printed and the script fails.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** package name → a path that exists once it is installed */
const PACKAGES = {
  'dataset-fashion-mnist': '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz',
  // The queue tests start their own redis-server on 127.0.0.1 (testsupport/global-setup.ts).
  'redis-server': '/usr/bin/redis-server',
  // The HTML report test opens the report in headless Chromium (gpu-runner/test/report-html.e2e.test.ts).
  chromium: '/usr/bin/chromium',
  // Real PyTorch under /usr/bin/python3: the checkpoint tests write .pt files with torch.save
  // (gpu-runner/test/pytorch-checkpoints.e2e.test.ts), the export tests load ours (pytorch-export.e2e.test.ts).
  'python3-torch': '/usr/lib/python3/dist-packages/torch/__init__.py',
};

const missing = Object.entries(PACKAGES)
  .filter(([, path]) => !existsSync(path))
  .map(([name]) => name);

if (missing.length === 0) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot) {
  console.error(`The tests need these Debian packages: ${missing.join(' ')}\nInstall them with: sudo apt-get install -y ${missing.join(' ')}`);
  process.exit(1);
}

const run = (cmd, args) => {
  console.error(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run('apt-get', ['update', '-q']);
run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing]);
