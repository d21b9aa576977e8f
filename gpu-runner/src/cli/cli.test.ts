import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from './main.ts';
import { serializeModel } from '../io/model-file.ts';
import { OFFICIAL_MLP_NAMING } from '@clafusion/model-format/naming';
import { serializeSafetensors } from '@clafusion/model-format/safetensors';
import { randomMlp } from '../../test/support/reference-mlp.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

const a = join(dir, 'a.safetensors');
const b = join(dir, 'b.safetensors');
const cal = join(dir, 'cal.safetensors');
writeFileSync(a, serializeModel(randomMlp({ family: 'mlp', input: [6], hidden: [5, 4, 3], classes: 3, bias: false }, 1), OFFICIAL_MLP_NAMING));
writeFileSync(b, serializeModel(randomMlp({ family: 'mlp', input: [6], hidden: [5, 3], classes: 3, bias: false }, 2), OFFICIAL_MLP_NAMING));
writeFileSync(cal, serializeSafetensors([['x', { shape: [20, 6], data: new Float32Array(120).map((_, i) => Math.sin(i)) }]]));
const base = ['fuse', '--model', a, '--model', b, '--calibration', cal];

/** Every failure is a single line on stderr. */
function oneLine(err: string) {
  expect(err.trim().split('\n')).toHaveLength(1);
}

describe('clafusion CLI errors', () => {
  it('rejects an unknown command', async () => {
    const r = await cli('fusee');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command "fusee"/);
    oneLine(r.err);
  });

  it('names a missing required flag', async () => {
    const r = await cli(...base);
    expect(r.code).toBe(2);
    expect(r.err).toBe('clafusion fuse: --out is required\n');
  });

  it('names a bad enum value and an unknown flag', async () => {
    const bad = await cli(...base, '--out', join(dir, 'f.safetensors'), '--layer-cost', 'l2');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--layer-cost must be one of cka\|neurons\|wasserstein\|index, got "l2"/);
    oneLine(bad.err);
    const unknown = await cli(...base, '--out', join(dir, 'f.safetensors'), '--layercost', 'cka');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown option --layercost/);
  });

  it('needs two models and one weight per model', async () => {
    expect((await cli('fuse', '--model', a, '--calibration', cal, '--out', 'x')).err).toMatch(/at least two --model files, got 1/);
    const w = await cli(...base, '--out', join(dir, 'f.safetensors'), '--weights', '0.5,0.3,0.2');
    expect(w.code).toBe(2);
    expect(w.err).toMatch(/--weights has 3 entries but 2 models/);
  });

  it('reports a missing file and a malformed model file in one line', async () => {
    const missing = await cli('fuse', '--model', join(dir, 'nope.safetensors'), '--model', b, '--calibration', cal, '--out', join(dir, 'f.safetensors'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no such file: .*nope\.safetensors/);
    oneLine(missing.err);
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, Buffer.from([1, 2, 3]));
    const malformed = await cli('fuse', '--model', junk, '--model', b, '--calibration', cal, '--out', join(dir, 'f.safetensors'));
    expect(malformed.code).toBe(1);
    expect(malformed.err).toMatch(/error \[MALFORMED_FILE\]/);
    oneLine(malformed.err);
  });

  it('rejects calibration data of the wrong width, naming it', async () => {
    const wrong = join(dir, 'wrong.safetensors');
    writeFileSync(wrong, serializeSafetensors([['x', { shape: [20, 5], data: new Float32Array(100) }]]));
    const r = await cli('fuse', '--model', a, '--model', b, '--calibration', wrong, '--out', join(dir, 'f.safetensors'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/x/);
    oneLine(r.err);
  });

  it('fuses and summarises a small pair, with explicit mapping and weights', async () => {
    const r = await cli(...base, '--out', join(dir, 'f.safetensors'), '--mapping', '1,3', '--weights', '1,3', '--quiet');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/mapping hidden \(model 2 → model 1\): \[1, 3\]/);
  });
});
