import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PickleWriter } from './pickle-writer.ts';

/** CPython's own unpickler (any python3 will do: no torch needed) reads the bytes; the result comes back as JSON. */
function unpickle(bytes: Uint8Array, expression = 'value'): unknown {
  const script = `import json, pickle, sys\nvalue = pickle.loads(sys.stdin.buffer.read())\nprint(json.dumps(${expression}))`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: bytes }).toString());
}

describe('PickleWriter', () => {
  it('writes integers at every encoding boundary as CPython reads them', () => {
    const values = [0, 1, 255, 256, 65535, 65536, -1, -128, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 40, -(2 ** 40), 2 ** 53 - 1, -(2 ** 53 - 1), 127, 128, 32767, 32768, 8388607, 8388608];
    const w = new PickleWriter().mark();
    for (const v of values) w.int(v);
    expect(unpickle(w.tuple().finish())).toEqual(values);
  });

  it('writes strings, booleans, None and tuples of every size', () => {
    const w = new PickleWriter().mark();
    w.string('').string('fc1.weight').string('Größe ✓ 𝔘');
    w.bool(true).bool(false).none();
    for (const n of [0, 1, 2, 3, 4, 7]) w.intTuple(Array.from({ length: n }, (_, i) => i * 300));
    const value = unpickle(w.tuple().finish(), '[v if not isinstance(v, tuple) else ["tuple", list(v)] for v in value]');
    expect(value).toEqual([
      '',
      'fc1.weight',
      'Größe ✓ 𝔘',
      true,
      false,
      null,
      ...[0, 1, 2, 3, 4, 7].map((n) => ['tuple', Array.from({ length: n }, (_, i) => i * 300)]),
    ]);
  });

  it('calls globals and fills a dict with SETITEMS, in order', () => {
    const w = new PickleWriter().global('collections', 'OrderedDict').tuple(0).reduce().mark();
    w.string('b').int(1).string('a').int(2);
    const bytes = w.setItems().finish();
    expect(unpickle(bytes, '[type(value).__name__, list(value.items())]')).toEqual(['OrderedDict', [['b', 1], ['a', 2]]]);
  });

  it('refuses what it cannot encode', () => {
    expect(() => new PickleWriter().int(1.5)).toThrow(/cannot pickle 1.5/);
    expect(() => new PickleWriter().int(2 ** 53)).toThrow(/cannot pickle/);
    expect(() => new PickleWriter().global('os\nsystem', 'x')).toThrow(/invalid pickle global name/);
  });
});
