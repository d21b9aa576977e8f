/**
 * What a new user runs into first: errors that say which model file is bad,
 * output folders checked before minutes of work, `help <command>`, the
 * nearest flag for a typo, and `train --quiet` that is quiet.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { serializeModel } from '../io/model-file.ts';
import { OFFICIAL_MLP_NAMING } from '@clafusion/model-format/naming';
import { serializeSafetensors } from '@clafusion/model-format/safetensors';
import { randomMlp } from '../../test/support/reference-mlp.ts';
import { main } from './main.ts';
import { closest, editDistance } from './suggest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-newcomer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(argv, { stdout, stderr: stderr as unknown as NodeJS.WriteStream });
  return { code, out, err };
}

const a = join(dir, 'a.safetensors');
const b = join(dir, 'b.safetensors');
const cal = join(dir, 'cal.safetensors');
const junk = join(dir, 'junk.pt');
const labelled = join(dir, 'labelled.safetensors');
writeFileSync(a, serializeModel(randomMlp({ family: 'mlp', input: [6], hidden: [5, 4], classes: 3, bias: false }, 1), OFFICIAL_MLP_NAMING));
writeFileSync(b, serializeModel(randomMlp({ family: 'mlp', input: [6], hidden: [5], classes: 3, bias: false }, 2), OFFICIAL_MLP_NAMING));
writeFileSync(cal, serializeSafetensors([['x', { shape: [20, 6], data: new Float32Array(120).map((_, i) => Math.sin(i)) }]]));
writeFileSync(junk, Buffer.from([1, 2, 3]));
writeFileSync(
  labelled,
  serializeSafetensors([
    ['x', { shape: [16, 6], data: new Float32Array(96).map((_, i) => Math.cos(i)) }],
    ['y', { dtype: 'I64', shape: [16], data: Array.from({ length: 16 }, (_, i) => i % 3) }],
  ]),
);

function oneLine(err: string) {
  expect(err.trim().split('\n')).toHaveLength(1);
}

describe('model-file errors name the input', () => {
  it('fuse: model 2 (junk.pt), in one line', async () => {
    const r = await cli('fuse', '--model', a, '--model', junk, '--calibration', cal, '--out', join(dir, 'f.safetensors'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^clafusion fuse: error \[MALFORMED_FILE\]: model 2 \(junk\.pt\): safetensors file is truncated/);
    oneLine(r.err);
  });

  it('eval and distill name theirs too', async () => {
    expect((await cli('eval', '--model', junk, '--data', labelled)).err).toMatch(/error \[MALFORMED_FILE\]: model 1 \(junk\.pt\): /);
    const d = await cli('distill', '--teacher', a, '--teacher', junk, '--student', b, '--data', labelled, '--out', join(dir, 'd.safetensors'), '--alpha', '0.5', '--temperature', '2');
    expect(d.err).toMatch(/error \[MALFORMED_FILE\]: teacher 2 \(junk\.pt\): /);
  });
});

describe('output destinations are checked before any work', () => {
  const missing = join(dir, 'no-such-folder');
  // The model does not exist either: the destination error coming first shows nothing was read.
  const base = ['fuse', '--model', join(dir, 'absent.pt'), '--model', b, '--calibration', cal];
  it.each([
    ['--out', [...base, '--out', join(missing, 'f.safetensors')]],
    ['--report', [...base, '--out', join(dir, 'f.safetensors'), '--report', join(missing, 'r.json')]],
    ['--report-html', [...base, '--out', join(dir, 'f.safetensors'), '--report-html', join(missing, 'r.html')]],
  ])('%s in a missing folder: a usage error naming the flag and folder, never a temp file', async (flag, argv) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^clafusion fuse: ${flag} \\S+: folder ${missing.replaceAll('/', '\\/')} does not exist\\n$`));
    expect(r.err).not.toMatch(/tmp-|\.tmp|absent/);
    expect(readdirSync(dir).filter((f) => f.startsWith('f.safetensors'))).toEqual([]);
  });

  it('a folder given as --out, and train/finetune destinations', async () => {
    mkdirSync(join(dir, 'a-folder'), { recursive: true });
    const folder = await cli('fuse', '--model', a, '--model', b, '--calibration', cal, '--out', join(dir, 'a-folder'));
    expect(folder.code).toBe(2);
    expect(folder.err).toMatch(/--out .*a-folder is a folder; give a file name/);
    const train = await cli('train', '--arch', '{"family":"mlp","input":[6],"hidden":[4],"classes":3}', '--data', join(dir, 'absent.safetensors'), '--out', join(missing, 't.safetensors'));
    expect(train.err).toMatch(/^clafusion train: --out \S+: folder \S+ does not exist/);
    const finetune = await cli('finetune', '--model', join(dir, 'absent.pt'), '--data', labelled, '--out', join(dir, 'ok.safetensors'), '--report', join(missing, 'r.json'));
    expect(finetune.err).toMatch(/^clafusion finetune: --report \S+: folder \S+ does not exist/);
  });
});

describe('help and typos', () => {
  it('clafusion help fuse is fuse --help; help of an unknown command says so', async () => {
    const help = await cli('help', 'fuse');
    expect(help.code).toBe(0);
    expect(help.out).toBe((await cli('fuse', '--help')).out);
    expect(help.out).toMatch(/^usage: clafusion fuse /);
    const unknown = await cli('help', 'fusee');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe('clafusion: unknown command "fusee" (did you mean fuse?)\n');
  });

  it('an unknown flag suggests the closest one, and only a close one', async () => {
    const typo = await cli('fuse', '--modle', a);
    expect(typo.err).toBe('clafusion fuse: unknown option --modle (did you mean --model?)\n');
    expect((await cli('fuse', '--layercost', 'cka')).err).toMatch(/unknown option --layercost \(did you mean --layer-cost\?\)/);
    expect((await cli('eval', '--zzzzzzzz')).err).toBe('clafusion eval: unknown option --zzzzzzzz\n');
  });

  it('edit distance and the closeness limit', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('report-html', 'reporthtml')).toBe(0);
    expect(closest('calibraton', ['calibration', 'eval'])).toBe('calibration');
    expect(closest('xyz', ['calibration', 'eval'])).toBeUndefined();
  });
});

describe('train --quiet', () => {
  it('prints nothing at all on success; without it, epochs and a summary', async () => {
    const argv = ['train', '--arch', '{"family":"mlp","input":[6],"hidden":[4],"classes":3}', '--data', labelled, '--epochs', '2', '--batch', '8'];
    const quiet = await cli(...argv, '--out', join(dir, 'q.safetensors'), '--quiet');
    expect(quiet.code).toBe(0);
    expect(quiet.out).toBe('');
    expect(quiet.err).toBe('');
    const loud = await cli(...argv, '--out', join(dir, 'l.safetensors'));
    expect(loud.code).toBe(0);
    expect(loud.out).toMatch(/^Trained /);
    expect(loud.err).toMatch(/epoch 2\/2/);
  });
});
