#!/usr/bin/env node
// npm run test:stress [-- N]: the whole suite N times (default 3, or
// STRESS_RUNS) under CPU contention, with vitest's file order shuffled by a
// different seed each run. A test that only passes on an idle machine, or only
// after another file ran, fails here (issue #19).
//
// The load: one busy-looping process per core, started here and stopped here
// (also on Ctrl-C), niced so the suite still gets a share, as on a shared CI
// machine. STRESS_LOAD=0 turns it off.
//
// Writes each run's output to .out/test-stress/run-<i>.log and a summary to
// .out/test-stress/summary.json; exits non-zero if any run failed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, createWriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

const runs = Number(process.argv[2] ?? process.env.STRESS_RUNS ?? 3);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`test:stress: the run count must be a positive integer, got ${process.argv[2] ?? process.env.STRESS_RUNS}`);
  process.exit(2);
}
const withLoad = process.env.STRESS_LOAD !== '0';
const outDir = join('.out', 'test-stress');
mkdirSync(outDir, { recursive: true });

// What `npm test` does before vitest: the Debian packages and the CDK packages.
for (const script of ['scripts/system-deps.mjs', 'infra/scripts/cdk-deps.mjs']) {
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const load = [];
function startLoad() {
  if (!withLoad) return;
  for (let i = 0; i < availableParallelism(); i++) {
    // A tight loop in its own process; nice 10 keeps it below the suite, but
    // it still takes every idle cycle the suite leaves.
    load.push(spawn('nice', ['-n', '10', process.execPath, '-e', 'for(;;){}'], { stdio: 'ignore' }));
  }
}
function stopLoad() {
  for (const p of load.splice(0)) p.kill('SIGKILL');
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopLoad();
    process.exit(130);
  });
}
process.on('exit', stopLoad);

/** Runs vitest once; resolves with the exit code and the closing counts. */
function runOnce(index, seed) {
  return new Promise((resolve) => {
    const logPath = join(outDir, `run-${index}.log`);
    const log = createWriteStream(logPath);
    const started = Date.now();
    const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--sequence.shuffle.files', `--sequence.seed=${seed}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    });
    let tail = '';
    const take = (chunk) => {
      log.write(chunk);
      // Colour codes stripped in case the reporter ignores NO_COLOR.
      tail = (tail + chunk.toString().replace(/\x1b\[[0-9;]*m/g, '')).slice(-20_000);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (code) => {
      log.end();
      const seconds = (Date.now() - started) / 1000;
      const tests = /Tests\s+(.*)\(\d+\)/.exec(tail)?.[1]?.trim() ?? 'no summary';
      const failing = [...tail.matchAll(/^\s*FAIL\s+(.+)$/gm)].map((m) => m[1].trim());
      resolve({ run: index, seed, exitCode: code, seconds, tests, failing: [...new Set(failing)].slice(0, 20), log: logPath });
    });
  });
}

const results = [];
const started = Date.now();
/** The summary so far, rewritten after every run so a stopped loop still leaves its record. */
function writeSummary(done) {
  const failed = results.filter((r) => r.exitCode !== 0).length;
  const summary = { date: new Date().toISOString(), runs, completed: results.length, done, load: withLoad ? availableParallelism() : 0, failed, totalSeconds: (Date.now() - started) / 1000, results };
  writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
startLoad();
console.log(`test:stress: ${runs} run(s) of the whole suite, file order shuffled, ${withLoad ? `${load.length} busy process(es) as load` : 'no load'}`);
for (let i = 1; i <= runs; i++) {
  const seed = 1000 + i * 7919;
  const result = await runOnce(i, seed);
  results.push(result);
  console.log(`run ${i}/${runs} (seed ${seed}): ${result.exitCode === 0 ? 'passed' : `FAILED (exit ${result.exitCode})`} in ${result.seconds.toFixed(0)} s — ${result.tests}`);
  for (const f of result.failing) console.log(`  ${f}`);
  writeSummary(false);
}
stopLoad();

const summary = writeSummary(true);
const failed = summary.failed;
console.log(`test:stress: ${runs - failed} of ${runs} run(s) passed in ${(summary.totalSeconds / 60).toFixed(1)} min; logs in ${outDir}/`);
process.exit(failed === 0 ? 0 : 1);
