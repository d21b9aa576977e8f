import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from './main.ts';
import { Args, parseArgs } from './args.ts';
import { SWEEP_FLAG, sweepWeightsFromArgs } from './sweep-flag.ts';
import { serializeModel } from '../io/model-file.ts';
import { OFFICIAL_MLP_NAMING } from '@clafusion/model-format/naming';
import { serializeSafetensors } from '@clafusion/model-format/safetensors';
import { randomMlp } from '../../test/support/reference-mlp.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => join(dir, name);
writeFileSync(file('a.safetensors'), serializeModel(randomMlp({ family: 'mlp', input: [6], hidden: [5, 4, 3], classes: 3, bias: false }, 1), OFFICIAL_MLP_NAMING));
writeFileSync(file('b.safetensors'), serializeModel(randomMlp({ family: 'mlp', input: [6], hidden: [5, 3], classes: 3, bias: false }, 2), OFFICIAL_MLP_NAMING));
const x = new Float32Array(120).map((_, i) => Math.sin(i));
writeFileSync(file('cal.safetensors'), serializeSafetensors([['x', { shape: [20, 6], data: x }]]));
writeFileSync(
  file('eval.safetensors'),
  serializeSafetensors([
    ['x', { shape: [20, 6], data: x }],
    ['y', { dtype: 'I32', shape: [20], data: Int32Array.from({ length: 20 }, (_, i) => i % 3) }],
  ]),
);
const base = ['fuse', '--model', file('a.safetensors'), '--model', file('b.safetensors'), '--calibration', file('cal.safetensors'), '--out', file('f.safetensors'), '--quiet'];

async function cli(...argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough() as unknown as NodeJS.WriteStream;
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  (stderr as unknown as PassThrough).on('data', (d) => (err += d));
  const code = await main(argv, { stdout, stderr });
  return { code, out, err };
}

const parse = (value: string) => sweepWeightsFromArgs(new Args(parseArgs(['--sweep', value], { sweep: SWEEP_FLAG })));

describe('fuse --sweep and --report-html', () => {
  it('reads a point count as an even grid and a list as weights of model 1', () => {
    expect(parse('5')).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(parse('0,0.3,1')).toEqual([0, 0.3, 1]);
    expect(() => parse('1')).toThrow(/a point count \(an integer ≥ 2, e.g. 11\) or a list of weights/);
    expect(() => parse('0.5')).toThrow(/a point count/);
    expect(() => parse('0,1.5')).toThrow(/must lie in \[0, 1\], got 1.5/);
  });

  it('refuses a sweep without eval data or with other than two models, before any work', async () => {
    const noEval = await cli(...base, '--sweep', '3');
    expect(noEval.code).toBe(2);
    expect(noEval.err).toBe('clafusion fuse: --sweep needs --eval to measure accuracy at each weight\n');
    const three = await cli(...base, '--model', file('b.safetensors'), '--eval', file('eval.safetensors'), '--sweep', '3');
    expect(three.code).toBe(2);
    expect(three.err).toMatch(/--sweep fuses exactly two models, got 3/);
  });

  it('records the sweep in report.json and writes the HTML report', async () => {
    const r = await cli(...base, '--eval', file('eval.safetensors'), '--sweep', '3', '--report', file('r.json'), '--report-html', file('r.html'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(file('r.json'), 'utf8'));
    expect(report.sweep.weights).toEqual([0, 0.5, 1]);
    expect(report.sweep.accuracy[1]).toBe(report.accuracy.fused);
    expect(r.out).toMatch(/fused accuracy by weight w of model 1 \(model 2: 1−w\): 0 \d+\.\d\d%  0\.5 \d+\.\d\d%  1 \d+\.\d\d%/);
    expect(r.out).toContain(`html report: ${file('r.html')}`);
    const html = readFileSync(file('r.html'), 'utf8');
    expect(html).toContain('id="sweep"');
    expect((html.match(/data-mapped="true"/g) ?? []).length).toBe(2);
  });
});
