/**
 * `clafusion fuse --record-runtime`: CNN activations recorded on
 * onnxruntime by default, on tfjs when asked, and on tfjs with one clear
 * progress message when onnxruntime-node cannot be loaded (simulated by a
 * module hook that hides the package); asking for onnxruntime then fails
 * with a message naming the flag. The report says which runtime recorded.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResNetArch } from '@clafusion/model-format/arch';
import { OFFICIAL_RESNET_NAMING } from '@clafusion/model-format/naming';
import { initModel } from '../src/engine/nn/init.ts';
import { Rng } from '../src/engine/rng.ts';
import { writeDatasetSafetensors } from '../src/io/datasets.ts';
import { writeModelFile } from '../src/io/model-file.ts';
import type { FusionReport } from '../src/pipeline/report.ts';
import { runCli } from './support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'record-runtime-'));
const path = (name: string) => join(dir, name);
const WITHOUT_ORT = fileURLToPath(new URL('./support/without-onnxruntime.mjs', import.meta.url));

beforeAll(async () => {
  const arch = (blocks: number[]): ResNetArch => ({ family: 'resnet', input: [8, 8, 3], blocks, widths: [4, 8], classes: 3, bias: false, batchnorm: true });
  await writeModelFile(path('a.safetensors'), initModel(arch([2, 2]), 1), OFFICIAL_RESNET_NAMING);
  await writeModelFile(path('b.safetensors'), initModel(arch([1, 1]), 2), OFFICIAL_RESNET_NAMING);
  const rng = new Rng(4);
  await writeDatasetSafetensors(path('cal.safetensors'), { x: { shape: [16, 3, 8, 8], data: Float32Array.from({ length: 16 * 192 }, () => rng.normal()) } });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function fuse(name: string, extra: string[], env: Record<string, string> = {}) {
  const run = await runCli(
    ['fuse', '--model', path('a.safetensors'), '--model', path('b.safetensors'), '--calibration', path('cal.safetensors'), '--out', path(`${name}.safetensors`), '--report', path(`${name}.json`), '--threads', '1', ...extra],
    env,
  );
  const report = run.code === 0 ? (JSON.parse(readFileSync(path(`${name}.json`), 'utf8')) as FusionReport) : null;
  return { ...run, report };
}

describe('fuse --record-runtime', () => {
  it('records on onnxruntime by default and says so in the report and the summary', async () => {
    const run = await fuse('default', ['--quiet'], { RUNNER_RECORD_RUNTIME: '' });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.report!.recording).toMatchObject({ runtime: 'onnxruntime' });
    expect(run.report!.recording!.fallback).toBeUndefined();
    expect(run.stdout).toMatch(/activations recorded on onnxruntime-node \d+\.\d+\.\d+ \(CPU\), 1 thread/);
  }, 120_000);

  it('records on tfjs when asked, by the flag or RUNNER_RECORD_RUNTIME, and the flag wins', async () => {
    const byFlag = await fuse('tfjs', ['--quiet', '--record-runtime', 'tfjs']);
    expect(byFlag.code).toBe(0);
    expect(byFlag.report!.recording).toEqual({ runtime: 'tfjs', detail: expect.stringMatching(/^tfjs /) });
    const byEnv = await fuse('tfjs-env', ['--quiet'], { RUNNER_RECORD_RUNTIME: 'tfjs' });
    expect(byEnv.report!.recording!.runtime).toBe('tfjs');
    const flagWins = await fuse('flag-wins', ['--quiet', '--record-runtime', 'onnxruntime'], { RUNNER_RECORD_RUNTIME: 'tfjs' });
    expect(flagWins.report!.recording!.runtime).toBe('onnxruntime');
  }, 180_000);

  it('falls back to tfjs with one progress message when onnxruntime-node cannot be loaded', async () => {
    const run = await fuse('fallback', [], { NODE_OPTIONS: `--import ${WITHOUT_ORT}` });
    expect(run.code).toBe(0);
    const notes = run.stderr.split(/[\r\n]/).filter((l) => l.includes('onnxruntime-node cannot be loaded'));
    expect(notes.length).toBeGreaterThanOrEqual(1);
    expect(new Set(notes.map((l) => l.slice(l.indexOf('onnxruntime-node cannot be loaded')))).size).toBe(1);
    expect(notes[0]).toContain("Cannot find package 'onnxruntime-node'");
    expect(notes[0]).toContain('recording on tfjs');
    expect(run.report!.recording).toMatchObject({ runtime: 'tfjs', fallback: expect.stringContaining("Cannot find package 'onnxruntime-node'") });
    expect(run.stdout).toContain('onnxruntime-node unavailable');
    // The same bytes as asking for tfjs: the fallback is the tfjs path itself.
    await fuse('tfjs-again', ['--quiet', '--record-runtime', 'tfjs']);
    expect(readFileSync(path('fallback.safetensors')).equals(readFileSync(path('tfjs-again.safetensors')))).toBe(true);
  }, 180_000);

  it('fails with a message naming the flag when onnxruntime is asked for but cannot be loaded, or the value is unknown', async () => {
    const run = await fuse('must-ort', ['--quiet', '--record-runtime', 'onnxruntime'], { NODE_OPTIONS: `--import ${WITHOUT_ORT}` });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('record-runtime onnxruntime: onnxruntime-node cannot be loaded');
    const bad = await fuse('bad', ['--quiet', '--record-runtime', 'torch']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--record-runtime must be one of onnxruntime|tfjs, got "torch"');
    const badEnv = await fuse('bad-env', ['--quiet'], { RUNNER_RECORD_RUNTIME: 'torch' });
    expect(badEnv.code).not.toBe(0);
    expect(badEnv.stderr).toContain('RUNNER_RECORD_RUNTIME must be onnxruntime or tfjs, got "torch"');
  }, 180_000);
});
