/**
 * The restricted unpickler against Python's own pickler: the same object
 * pickled with every protocol (0–5) by /usr/bin/python3 must decode to what
 * Python describes, memo sharing included; and what needs a global outside
 * the allowed set (bytes before protocol 3 are `_codecs.encode` calls) is
 * refused by name.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FusionError } from '../errors.ts';
import { type PickleValue, PickleDict, PickleGlobal, PickleTuple, unpickle } from './unpickler.ts';

/** Pickles OBJECT with each protocol; prints one JSON line per protocol: {protocol, pickle (hex), expected}. */
const PYTHON = String.raw`
import json, pickle, sys
shared = [1]
obj = {
  'name': 'w\u00e9ight \u2603 "quoted" \\ back',
  'ints': [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31, 2**53 - 1, 2**62, -2**70],
  'floats': [0.5, -1.25, 1e300, -0.0],
  'flags': [True, False, None],
  'tuple': (1, (2, 3), (), (4,), (5, 6, 7, 8)),
  'nested': {'a': {'b': [[]]}, 7: 'int key'},
  'shared': [shared, shared],
}
def describe(v):
  if isinstance(v, bool) or v is None: return v
  if isinstance(v, int): return v if abs(v) <= 2**53 - 1 else {'int': str(v)}
  if isinstance(v, float): return v
  if isinstance(v, str): return v
  if isinstance(v, bytes): return {'bytes': v.hex()}
  if isinstance(v, tuple): return {'tuple': [describe(x) for x in v]}
  if isinstance(v, list): return [describe(x) for x in v]
  if isinstance(v, dict): return {'dict': [[describe(k), describe(x)] for k, x in v.items()]}
  raise TypeError(type(v))
for protocol in range(6):
  o = dict(obj)
  if protocol >= 3: o['bytes'] = b'\x00\xff raw'
  print(json.dumps({'protocol': protocol, 'pickle': pickle.dumps(o, protocol=protocol).hex(), 'expected': describe(o)}))
print(json.dumps({'protocol': -1, 'pickle': pickle.dumps({'b': b'\x00'}, protocol=2).hex(), 'expected': None}))
`;

function describeValue(v: PickleValue): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return { int: v.toString() };
  if (typeof v === 'number') return v;
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (v instanceof PickleTuple) return { tuple: v.items.map(describeValue) };
  if (Array.isArray(v)) return v.map(describeValue);
  if (v instanceof PickleDict) return { dict: [...v.map].map(([k, x]) => [describeValue(k), describeValue(x)]) };
  throw new Error(`unexpected ${String(v)}`);
}

const cases = execFileSync('/usr/bin/python3', ['-c', PYTHON], { encoding: 'utf8' })
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { protocol: number; pickle: string; expected: unknown });

const plain = { allowed: new Set<string>(), call: () => null };

describe('unpickler against Python’s pickle', () => {
  for (const c of cases.filter((c) => c.protocol >= 0)) {
    it(`protocol ${c.protocol}: decodes what Python pickled`, () => {
      const bytes = Buffer.from(c.pickle, 'hex');
      const { value, end } = unpickle(bytes, 0, plain);
      expect(end).toBe(bytes.length);
      expect(describeValue(value)).toEqual(c.expected);
      // Memo sharing: both entries are the same list object, as in Python.
      const shared = (value as PickleDict).map.get('shared') as PickleValue[];
      expect(shared[0]).toBe(shared[1]);
    });
  }

  it('bytes before protocol 3 are a _codecs.encode call, refused by name', () => {
    const c = cases.find((x) => x.protocol === -1)!;
    expect(() => unpickle(Buffer.from(c.pickle, 'hex'), 0, plain)).toThrow(/unsupported object in checkpoint: _codecs\.encode/);
  });

  it('an allowed global reaches the caller’s stand-in, never anything else', () => {
    const calls: string[] = [];
    const bytes = Buffer.from(cases[2].pickle, 'hex');
    unpickle(bytes, 0, { allowed: new Set(['x.y']), call: (fn: PickleGlobal) => (calls.push(fn.qualified), null) });
    expect(calls).toEqual([]);
    const e = (() => {
      try {
        unpickle(Buffer.from('800263780a7a0a2e', 'hex'), 0, plain); // PROTO 2, GLOBAL x z, STOP
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(FusionError);
    expect((e as FusionError).message).toBe('unsupported object in checkpoint: x.z');
  });
});
