/**
 * Hostile PyTorch checkpoints, explicit and fuzzed: pickles that would run
 * code in Python's unpickler (a canary file proves nothing ran, and Python
 * itself proves the same bytes would have run it), storages and views that
 * claim more than the file holds, truncated and damaged zips, zip bombs and
 * unknown opcodes. Every one must end in a FusionError with a stable code,
 * quickly and without allocating for what the file claims.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FusionError, type FusionErrorCode } from '@clafusion/model-format/errors';
import {
  FUZZ_BUDGET,
  type PickledTensor,
  concatBytes,
  expectTypedOutcome,
  expectTypedOutcomeAsync,
  pickle,
  stateDictPickle,
  torchLegacyBytes,
  torchZipBytes,
  zipBytes,
} from './fuzz-helpers.ts';
import { dtypeSize } from '@clafusion/model-format/dtypes';
import { parseModelFile } from './model-file.ts';
import { parsePytorchCheckpoint, readPytorchHeader, runRangesAsync, runRangesSync } from '@clafusion/model-format/pytorch/checkpoint';
import { unpickle } from '@clafusion/model-format/pytorch/unpickler';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-fuzz-torch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function thrown(read: () => unknown): FusionError {
  try {
    read();
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(FusionError);
    return e as FusionError;
  }
  throw new Error('expected a FusionError, but it read');
}

function expectCode(read: () => unknown, code: FusionErrorCode, message?: RegExp): FusionError {
  const e = thrown(read);
  expect(e.code, e.message).toBe(code);
  if (message) expect(e.message).toMatch(message);
  return e;
}

/** Reads with both entry points: the whole-file parser and the header reader the API uses. */
function expectBoth(bytes: Uint8Array, code: FusionErrorCode, message: RegExp): void {
  expectCode(() => parseModelFile(bytes), code, message);
  expectCode(() => runRangesSync(readPytorchHeader(bytes.length), bytes), code, message);
}

const f32 = (...values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
/** A two-layer official-named MLP: fc1 [3, 2], fc2 [2, 3]. */
const MLP: PickledTensor[] = [
  { name: 'fc1.weight', key: '0', storage: 'FloatStorage', numel: 6, shape: [3, 2] },
  { name: 'fc2.weight', key: '1', storage: 'FloatStorage', numel: 6, shape: [2, 3] },
];
const STORAGES = { '0': f32(1, 2, 3, 4, 5, 6), '1': f32(6, 5, 4, 3, 2, 1) };
const validZip = torchZipBytes(stateDictPickle(MLP), STORAGES);
const validZip64 = torchZipBytes(stateDictPickle(MLP), STORAGES, true);
const validLegacy = torchLegacyBytes(stateDictPickle(MLP, true), [
  ['0', 6, STORAGES['0']],
  ['1', 6, STORAGES['1']],
]);

describe('PyTorch checkpoints built by hand', () => {
  it('the well-formed zip (plain and zip64) and legacy files read as the MLP they hold', () => {
    for (const bytes of [validZip, torchZipBytes(stateDictPickle(MLP), STORAGES, true), validLegacy]) {
      const { model } = parseModelFile(bytes);
      expect(model.arch).toEqual({ family: 'mlp', input: [2], hidden: [3], classes: 2, bias: false });
      expect([...model.params.get('fc1.weight')!.data]).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });

  it('torch.load reads the same hand-built files, so the corpus below mutates realistic checkpoints', () => {
    const files = { zip: validZip, zip64: validZip64, legacy: validLegacy };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, `${name}.pt`), bytes);
    const script = 'import sys, torch\nfor f in sys.argv[1:]: print(torch.load(f)["fc2.weight"].flatten().tolist())';
    const out = execFileSync('/usr/bin/python3', ['-c', script, ...Object.keys(files).map((n) => join(dir, `${n}.pt`))], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual(Array(3).fill('[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]'));
  });
});

describe('PyTorch checkpoint corpus: nothing is executed', () => {
  const canary = join(dir, 'CANARY');
  /** `os.system("touch CANARY")` as pickle protocol 0-2 writes it (posix.system) and via STACK_GLOBAL (protocol 4) with builtins.eval. */
  const systemCall = concatBytes(pickle.proto(), pickle.global('posix', 'system'), pickle.mark, pickle.str(`touch ${canary}`), pickle.tuple, pickle.reduce, pickle.stop);
  const evalCall = concatBytes(
    pickle.proto(4),
    pickle.str('builtins'),
    pickle.str('eval'),
    pickle.stackGlobal,
    pickle.mark,
    pickle.str(`open(${JSON.stringify(canary)}, "w").close()`),
    pickle.tuple,
    pickle.reduce,
    pickle.stop,
  );
  /** The call hidden inside an otherwise valid state dict, as the value of a key. */
  const hiddenInStateDict = concatBytes(
    stateDictPickle(MLP).subarray(0, -2), // up to, not including, SETITEMS + STOP
    pickle.str('extra'),
    systemCall.subarray(2, -1),
    pickle.setItems,
    pickle.stop,
  );

  it.each([
    ['posix.system in data.pkl', torchZipBytes(systemCall), /unsupported object in checkpoint: posix\.system/],
    ['builtins.eval via STACK_GLOBAL in data.pkl', torchZipBytes(evalCall), /unsupported object in checkpoint: builtins\.eval/],
    ['posix.system inside a valid state dict', torchZipBytes(hiddenInStateDict, STORAGES), /unsupported object in checkpoint: posix\.system/],
    ['posix.system as the legacy format main pickle', torchLegacyBytes(systemCall, []), /unsupported object in checkpoint: posix\.system/],
    ['a whole pickled nn.Module', torchZipBytes(concatBytes(pickle.proto(), pickle.global('__main__', 'Net'), pickle.emptyTuple, pickle.reduce, pickle.stop)), /__main__\.Net.*model\.state_dict\(\)/],
  ])('%s: refused by name, and the canary is never created', (_, bytes, message) => {
    expectBoth(bytes, 'UNSUPPORTED', message);
    expect(existsSync(canary)).toBe(false);
  });

  it('the same payloads do run in Python’s own unpickler (so the canary check can fail)', () => {
    const payload = join(dir, 'payload.pkl');
    writeFileSync(payload, systemCall);
    execFileSync('/usr/bin/python3', ['-c', 'import pickle, sys; pickle.load(open(sys.argv[1], "rb"))', payload]);
    expect(existsSync(canary)).toBe(true);
    rmSync(canary);
  });
});

describe('PyTorch checkpoint corpus: claims beyond the file', () => {
  const huge = (numel: number | bigint): PickledTensor[] => [{ ...MLP[0], numel }, MLP[1]];
  it.each([
    ['a storage declaring 2^50 elements (zip)', torchZipBytes(stateDictPickle(huge(2 ** 50)), STORAGES), 'MALFORMED_FILE', /declares 1125899906842624 elements of F32/],
    ['a storage declaring 2^62 elements (zip)', torchZipBytes(stateDictPickle(huge(2n ** 62n)), STORAGES), 'MALFORMED_FILE', /storage 0 has an invalid size/],
    ['a view past the end of its storage', torchZipBytes(stateDictPickle([{ ...MLP[0], shape: [3, 3] }, MLP[1]]), STORAGES), 'MALFORMED_FILE', /fc1\.weight.*reaches element 8 of storage 0, which holds 6/],
    ['a view 2^40 × 2^40 with zero strides over 6 elements', torchZipBytes(stateDictPickle([{ ...MLP[0], shape: [2 ** 40, 2 ** 40], stride: [0, 0] }, MLP[1]]), STORAGES), 'MALFORMED_FILE', /too many elements/],
    ['a missing storage entry', torchZipBytes(stateDictPickle(MLP), { '0': STORAGES['0'] }), 'MALFORMED_FILE', /storage 1 is missing/],
    ['a zip without data.pkl', zipBytes([{ name: 'archive/version', data: new Uint8Array([51]) }]), 'MALFORMED_FILE', /no data\.pkl/],
  ] as const)('%s', (_, bytes, code, message) => {
    expectBoth(bytes, code, message);
  });

  it('a strided view of 2^15 × 2^15 elements over one element exceeds the budget before allocating', () => {
    const bytes = torchZipBytes(stateDictPickle([{ ...MLP[0], shape: [2 ** 15, 2 ** 15], stride: [0, 0], numel: 6 }, MLP[1]]), STORAGES);
    expectCode(() => parseModelFile(bytes), 'MALFORMED_FILE', /fc1\.weight: reading it needs 4294967296 bytes/);
  });

  it('2000 tensors viewing one 64 KiB storage exceed the budget instead of making 2000 float32 copies', () => {
    const views: PickledTensor[] = Array.from({ length: 2000 }, (_, i) => ({ name: `t${i}`, key: '0', storage: 'FloatStorage', numel: 16384, shape: [16384] }));
    const bytes = torchZipBytes(stateDictPickle(views), { '0': new Uint8Array(65536) });
    expectCode(() => parseModelFile(bytes), 'MALFORMED_FILE', /are many tensors views of one storage/);
  });

  it('a legacy storage declaring 2^50 elements, and one declaring fewer than its tensors use', () => {
    const big = torchLegacyBytes(stateDictPickle(huge(2 ** 50), true), [
      ['0', 2 ** 50, STORAGES['0']],
      ['1', 6, STORAGES['1']],
    ]);
    expectCode(() => parseModelFile(big), 'MALFORMED_FILE', /storage 0 declares 1125899906842624 elements.*bytes are left/);
    const short = torchLegacyBytes(stateDictPickle(MLP, true), [
      ['0', 2, STORAGES['0']],
      ['1', 6, STORAGES['1']],
    ]);
    expectCode(() => parseModelFile(short), 'MALFORMED_FILE', /storage 0 declares 2 elements of F32, but 6 are used/);
  });
});

describe('PyTorch checkpoint corpus: damaged zips and bombs', () => {
  it('every truncation of a valid checkpoint fails typed (zip and legacy), never reads', () => {
    for (const valid of [validZip, validZip64, validLegacy]) {
      for (let cut = 0; cut < valid.length; cut++) {
        const bytes = valid.subarray(0, cut);
        const outcome = expectTypedOutcome(() => parseModelFile(bytes));
        expect(outcome, `cut at ${cut}`).toBeInstanceOf(FusionError);
      }
    }
  });

  it('a deflated data.pkl declaring 4 GiB from 20 bytes is refused before inflating', () => {
    const bomb = zipBytes([{ name: 'archive/data.pkl', data: deflateRawSync(new Uint8Array(1000)), method: 8, declaredSize: 0xfffffffe }]);
    expectBoth(bomb, 'MALFORMED_FILE', /declares 4294967294 bytes/);
  });

  it('a deflated entry that inflates to 16 MiB while declaring 1000 bytes stops at the declared size', () => {
    const compressed = deflateRawSync(new Uint8Array(16 * 1024 * 1024));
    const bomb = zipBytes([{ name: 'archive/data.pkl', data: compressed, method: 8, declaredSize: 1000 }]);
    expectBoth(bomb, 'MALFORMED_FILE', /inflates to more than the 1000 bytes it declares/);
  });

  it('deflated storages are bounded together, not only each on its own', () => {
    const storage = new Uint8Array(4096);
    const views: PickledTensor[] = Array.from({ length: 4 }, (_, i) => ({ name: `t${i}`, key: String(i), storage: 'FloatStorage', numel: 1024, shape: [1024] }));
    const zip = zipBytes([
      { name: 'x/data.pkl', data: stateDictPickle(views) },
      ...views.map((v) => ({ name: `x/data/${v.key}`, data: deflateRawSync(storage), method: 8 as const, declaredSize: 4096 })),
    ]);
    expectCode(() => parsePytorchCheckpoint(zip, { maxInflatedBytes: 10_000 }), 'MALFORMED_FILE', /storage 2: its deflated entries inflate to more than 10000 bytes in all/);
    expect(parsePytorchCheckpoint(zip, { maxInflatedBytes: 16_384 }).tensors.size).toBe(4);
  });

  it('a well-formed deflated archive reads (bounded inflation does not refuse honest files)', () => {
    const pkl = stateDictPickle(MLP);
    const zip = zipBytes([
      { name: 'x/data.pkl', data: deflateRawSync(pkl), method: 8, declaredSize: pkl.length },
      { name: 'x/data/0', data: deflateRawSync(STORAGES['0']), method: 8, declaredSize: 24 },
      { name: 'x/data/1', data: STORAGES['1'] },
    ]);
    expect([...parseModelFile(zip).model.params.get('fc2.weight')!.data]).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it('unknown and object-building opcodes are typed errors', () => {
    expectBoth(torchZipBytes(concatBytes(pickle.proto(), new Uint8Array([0xff]))), 'MALFORMED_FILE', /unknown opcode 0xff at byte 2/);
    expectBoth(torchZipBytes(concatBytes(pickle.proto(), new Uint8Array([0x81]))), 'UNSUPPORTED', /opcode 0x81/);
    expectBoth(torchZipBytes(concatBytes(pickle.proto(), pickle.str('x'))), 'MALFORMED_FILE', /before its STOP/);
    expectBoth(torchZipBytes(concatBytes(pickle.proto(), new Uint8Array([0x58, 0xff, 0xff, 0xff, 0x7f]))), 'MALFORMED_FILE', /needs 2147483647 bytes/);
  });

  it('a checkpoint dict without a state dict names what it holds', () => {
    const pkl = concatBytes(pickle.proto(), pickle.emptyDict, pickle.mark, pickle.str('epoch'), pickle.int(3), pickle.str('optimizer'), pickle.emptyDict, pickle.setItems, pickle.stop);
    expectBoth(torchZipBytes(pkl), 'MALFORMED_FILE', /no state dict found in checkpoint: it holds a dict with keys epoch, optimizer; expected .* state_dict, model_state_dict, model, net/);
  });
});

// ------------------------------------------------------------ fuzzing

const mutation = fc.record({
  flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
});

function mutate(bytes: Uint8Array, m: { flips: { at: number; value: number }[]; cut?: number }): Uint8Array {
  let out = bytes.slice();
  for (const { at, value } of m.flips) out[at % out.length] = value;
  if (m.cut !== undefined) out = out.subarray(0, m.cut % (out.length + 1));
  return out;
}

/** Opcodes of every kind, with arguments of hostile sizes. */
const opcode = fc.oneof(
  fc.constantFrom(...[0x28, 0x29, 0x2e, 0x30, 0x31, 0x32, 0x4e, 0x52, 0x51, 0x5d, 0x61, 0x62, 0x65, 0x6c, 0x73, 0x74, 0x75, 0x7d, 0x85, 0x86, 0x87, 0x88, 0x89, 0x93, 0x94].map((o) => new Uint8Array([o]))),
  fc.uint8Array({ minLength: 1, maxLength: 9 }),
  fc.string({ maxLength: 8 }).map((s) => pickle.str(s)),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((v) => pickle.int(v)),
  fc.constantFrom(pickle.global('torch._utils', '_rebuild_tensor_v2'), pickle.global('collections', 'OrderedDict'), pickle.global('torch', 'FloatStorage'), pickle.global('posix', 'system')),
  fc.integer({ min: 0, max: 300 }).map((i) => new Uint8Array([0x71, i & 0xff, 0x68, i & 0xff])),
);

describe('PyTorch checkpoint fuzzing', () => {
  it('random opcode streams: the unpickler returns or fails typed, whatever it is asked to call', () => {
    fc.assert(
      fc.property(fc.array(opcode, { maxLength: 40 }), (ops) => {
        const bytes = concatBytes(pickle.proto(), ...ops);
        expectTypedOutcome(() => unpickle(bytes, 0, { allowed: new Set(), call: () => null }));
        expectTypedOutcome(() => parseModelFile(torchZipBytes(bytes, STORAGES)));
      }),
      FUZZ_BUDGET,
    );
  });

  it('mutated zip and legacy checkpoints: both readers fail typed or read tensors that fit their shapes', () => {
    fc.assert(
      fc.property(fc.constantFrom(validZip, validZip64, validLegacy), mutation, (valid, m) => {
        const bytes = mutate(valid, m);
        const full = expectTypedOutcome(() => parsePytorchCheckpoint(bytes));
        if (!(full instanceof FusionError)) {
          for (const t of full.tensors.values()) expect(t.bytes.length).toBe(t.shape.reduce((a, b) => a * b, 1) * dtypeSize(t.dtype));
        }
        expectTypedOutcome(() => parseModelFile(bytes));
        expectTypedOutcome(() => runRangesSync(readPytorchHeader(bytes.length), bytes));
      }),
      FUZZ_BUDGET,
    );
  });

  it('the header reader over range requests never asks for bytes outside the file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(validZip, validZip64, validLegacy), mutation, async (valid, m) => {
        const bytes = mutate(valid, m);
        await expectTypedOutcomeAsync(() =>
          runRangesAsync(readPytorchHeader(bytes.length), async (start, end) => {
            expect(start).toBeGreaterThanOrEqual(0);
            expect(end).toBeLessThanOrEqual(bytes.length);
            expect(end).toBeGreaterThanOrEqual(start);
            return bytes.subarray(start, end);
          }),
        );
      }),
      FUZZ_BUDGET,
    );
  });
});
