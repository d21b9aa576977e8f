/**
 * Property-based fuzzing of the file readers with fast-check: random bytes,
 * mutated well-formed files and hostile headers. Every reader must return or
 * throw a FusionError with a stable code (never a TypeError, RangeError or
 * hang), and must refuse a header that claims more data than the budget
 * before allocating for it. Each property is bounded by FUZZ_BUDGET; the
 * nastiest inputs found live on as explicit cases in fuzz-corpus.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusionError } from '@clafusion/model-format/errors';
import { parseCifar10Batch, readCifar10Batch } from './cifar10.ts';
import { FUZZ_BUDGET, expectTypedOutcome, expectTypedOutcomeAsync, idxBytes, npyBytes, safetensorsBytes, withLengthPrefix } from './fuzz-helpers.ts';
import { readIdxImages, readIdxLabels } from './idx.ts';
import { parseModelFile } from './model-file.ts';
import { parseNpy, readNpy } from './npy.ts';
import { parseSafetensors, parseSafetensorsHeader, safetensorsHeaderLength, serializeSafetensors } from '@clafusion/model-format/safetensors';

let dir: string;
let fileNo = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clafusion-fuzz-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tempFile(bytes: Uint8Array): Promise<string> {
  const path = join(dir, `f${fileNo++}`);
  await writeFile(path, bytes);
  return path;
}

/** A mutation of a byte string: flipped bytes, then a truncation or an appended tail. */
const mutation = fc.record({
  flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  tail: fc.uint8Array({ maxLength: 16 }),
});

function mutate(bytes: Uint8Array, m: { flips: { at: number; value: number }[]; cut?: number; tail: Uint8Array }): Uint8Array {
  let out = bytes.slice();
  for (const { at, value } of m.flips) if (out.length > 0) out[at % out.length] = value;
  if (m.cut !== undefined) out = out.subarray(0, m.cut % (out.length + 1));
  const joined = new Uint8Array(out.length + m.tail.length);
  joined.set(out);
  joined.set(m.tail, out.length);
  return joined;
}

// ------------------------------------------------------------ safetensors

const dtypeName = fc.constantFrom('F32', 'I32', 'I64');
const tensorSpec = fc.record({
  name: fc.string({ minLength: 1, maxLength: 12 }).filter((n) => n !== '__metadata__'),
  dtype: dtypeName,
  shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
});
/** Well-formed safetensors files: up to four small tensors, optional metadata. */
const validSafetensors = fc
  .tuple(fc.uniqueArray(tensorSpec, { selector: (t) => t.name, maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }))
  .map(([specs, metadata]) =>
    serializeSafetensors(
      specs.map((s) => [s.name, { dtype: s.dtype, shape: s.shape, data: new Array(s.shape.reduce((a, b) => a * b, 1)).fill(1) }] as const),
      metadata,
    ),
  );

/** Numbers that break naive integer handling. */
const hostileNumber = fc.oneof(
  fc.constantFrom(-1, 0.5, 2 ** 53, 2 ** 60, 2 ** 64, 1e308, -0, Number.MAX_SAFE_INTEGER),
  fc.integer({ min: -10, max: 1000 }),
);
/** Header text for hostile JSON values, written out by hand so numbers like 1e999 survive. */
const hostileValueText = fc.oneof(
  hostileNumber.map(String),
  fc.constantFrom('1e999', '-1e999', '123456789012345678901234567890', 'null', 'true', '"F32"', '[]', '{}', '[1,2,3]'),
);
const hostileEntry = fc
  .record({
    dtype: fc.oneof(fc.constantFrom('"F32"', '"I64"', '"BOOL"', '"F8_E4M3"', '"X"', '7', 'null'), hostileValueText),
    shape: fc.array(hostileValueText, { maxLength: 4 }).map((a) => `[${a.join(',')}]`),
    offsets: fc.array(hostileValueText, { maxLength: 3 }).map((a) => `[${a.join(',')}]`),
  })
  .map((e) => `{"dtype":${e.dtype},"shape":${e.shape},"data_offsets":${e.offsets}}`);
/** Top-level headers with hostile entries, duplicate names allowed (they must be refused). */
const hostileHeader = fc
  .array(fc.tuple(fc.constantFrom('a', 'b', '__metadata__', '__proto__', 'constructor', '0'), hostileEntry), { maxLength: 4 })
  .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`);

describe('safetensors fuzzing', () => {
  it('random bytes: a typed outcome, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        expectTypedOutcome(() => parseSafetensors(bytes));
      }),
      FUZZ_BUDGET,
    );
  });

  it('well-formed files round-trip; mutated ones parse into tensors that tile the data, or fail typed', () => {
    fc.assert(
      fc.property(validSafetensors, mutation, (bytes, m) => {
        expect(parseSafetensors(bytes).tensors).toBeInstanceOf(Map);
        const mutated = mutate(bytes, m);
        const outcome = expectTypedOutcome(() => parseSafetensors(mutated));
        if (outcome instanceof FusionError) return;
        const headerLength = Number(new DataView(mutated.buffer, mutated.byteOffset).getBigUint64(0, true));
        const dataLength = mutated.length - 8 - headerLength;
        let total = 0;
        for (const t of outcome.tensors.values()) total += t.bytes.byteLength;
        expect(total).toBe(dataLength);
      }),
      FUZZ_BUDGET,
    );
  });

  it('any 64-bit length prefix is checked against the limit and the file before anything is read', () => {
    fc.assert(
      fc.property(validSafetensors, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (bytes, length) => {
        const patched = withLengthPrefix(bytes, length);
        const outcome = expectTypedOutcome(() => safetensorsHeaderLength(patched.subarray(0, 8), patched.length));
        if (typeof outcome === 'number') expect(8 + outcome).toBeLessThanOrEqual(patched.length);
        expectTypedOutcome(() => parseSafetensors(patched));
      }),
      FUZZ_BUDGET,
    );
  });

  it('hostile JSON headers (huge numbers, wrong types, duplicate keys, prototype keys) fail typed', () => {
    fc.assert(
      fc.property(hostileHeader, fc.uint8Array({ maxLength: 64 }), (header, data) => {
        const bytes = safetensorsBytes(header, data);
        expectTypedOutcome(() => parseSafetensors(bytes));
        expectTypedOutcome(() => parseSafetensorsHeader(bytes.subarray(8, bytes.length - data.length), bytes.length));
      }),
      FUZZ_BUDGET,
    );
  });

  it('arbitrary JSON values as the header fail typed', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'medium' }), (json) => {
        expectTypedOutcome(() => parseSafetensors(safetensorsBytes(json)));
      }),
      FUZZ_BUDGET,
    );
  });

  it('mutated model files: parseModelFile fails typed', () => {
    fc.assert(
      fc.property(validSafetensors, mutation, (bytes, m) => {
        expectTypedOutcome(() => parseModelFile(mutate(bytes, m)));
      }),
      FUZZ_BUDGET,
    );
  });
});

// ------------------------------------------------------------ npy

const descr = fc.constantFrom("'<f4'", "'<f8'", "'|u1'", "'<i4'", "'<i8'", "'>f4'", "'<c8'", "''", '7', 'None');
const pyInt = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(-1, 2 ** 31, 2 ** 53, 2 ** 63)).map(String);
const npyHeaderText = fc
  .record({
    descr,
    fortran: fc.constantFrom('False', 'True', '0', "'no'"),
    shape: fc.array(fc.oneof(pyInt, fc.constantFrom('9' .repeat(40), '1L', "'3'", '()')), { maxLength: 4 }),
    extra: fc.constantFrom('', ", 'x': 1", ", 'descr': '<f4'"),
  })
  .map((h) => `{'descr': ${h.descr}, 'fortran_order': ${h.fortran}, 'shape': (${h.shape.join(', ')}${h.shape.length === 1 ? ',' : ''})${h.extra}, }`);

function validNpy(shape: number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  return npyBytes(header, new Uint8Array(4 * n));
}

describe('npy fuzzing', () => {
  it('random bytes after the magic: a typed outcome', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, magic) => {
        const input = magic ? npyBytes('', bytes).subarray(0, 8 + bytes.length) : bytes;
        if (magic) input.set(bytes.subarray(0, input.length - 8), 8);
        expectTypedOutcome(() => parseNpy(input));
      }),
      FUZZ_BUDGET,
    );
  });

  it('hostile headers (huge dims, bad descr, duplicate keys) fail typed; accepted ones hold exactly their bytes', () => {
    fc.assert(
      fc.property(npyHeaderText, fc.uint8Array({ maxLength: 64 }), (header, data) => {
        const outcome = expectTypedOutcome(() => parseNpy(npyBytes(header, data)));
        if (!(outcome instanceof FusionError)) expect(outcome.bytes.byteLength).toBe(data.length);
      }),
      FUZZ_BUDGET,
    );
  });

  it('nesting of any depth fails typed instead of overflowing the stack', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9_000 }), fc.constantFrom('(', '[', "{'a': "), (depth, open) => {
        expectTypedOutcome(() => parseNpy(npyBytes(open.repeat(depth))));
      }),
      { ...FUZZ_BUDGET, numRuns: 50 },
    );
  });

  it('mutated well-formed files fail typed', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }), mutation, (shape, m) => {
        expectTypedOutcome(() => parseNpy(mutate(validNpy(shape), m)));
      }),
      FUZZ_BUDGET,
    );
  });

  it('readNpy refuses a header claiming 2^60 elements before reading or allocating', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom([2 ** 30, 2 ** 30], [2 ** 20, 2 ** 20, 2 ** 20], [2 ** 52]), fc.boolean(), async (shape, gz) => {
        const bytes = npyBytes(`{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`);
        const path = await tempFile(gz ? gzipSync(bytes) : bytes);
        const outcome = await expectTypedOutcomeAsync(() => readNpy(path));
        expect(outcome).toBeInstanceOf(FusionError);
      }),
      { numRuns: 12, interruptAfterTimeLimit: FUZZ_BUDGET.interruptAfterTimeLimit },
    );
  });
});

// ------------------------------------------------------------ IDX and CIFAR-10

describe('IDX and CIFAR-10 fuzzing', () => {
  it('random and mutated IDX files, plain or gzipped: typed outcomes from both readers', async () => {
    const idxFile = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc
        .tuple(fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(2 ** 32 - 1, 2 ** 31)), { minLength: 1, maxLength: 3 }), fc.uint8Array({ maxLength: 64 }), mutation)
        .map(([dims, data, m]) => mutate(idxBytes(dims, data), m)),
    );
    await fc.assert(
      fc.asyncProperty(idxFile, fc.boolean(), async (bytes, gz) => {
        const path = await tempFile(gz ? gzipSync(bytes) : bytes);
        await expectTypedOutcomeAsync(() => readIdxImages(path));
        await expectTypedOutcomeAsync(() => readIdxLabels(path));
      }),
      { numRuns: 150, interruptAfterTimeLimit: FUZZ_BUDGET.interruptAfterTimeLimit },
    );
  });

  it('IDX headers claiming up to 2^96 pixels are refused by the element budget before reading', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2 ** 16, max: 2 ** 32 - 1 }), fc.integer({ min: 2 ** 16, max: 2 ** 32 - 1 }), async (n, side) => {
        const path = await tempFile(idxBytes([n, side, side]));
        const outcome = await expectTypedOutcomeAsync(() => readIdxImages(path));
        expect((outcome as FusionError).code).toBe('UNSUPPORTED');
      }),
      { numRuns: 20, interruptAfterTimeLimit: FUZZ_BUDGET.interruptAfterTimeLimit },
    );
  });

  it('CIFAR-10 batches: random bytes and record-aligned buffers with any labels fail typed or decode in range', async () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (noise, records, complete) => {
        const bytes = new Uint8Array(records * 3073 + noise.length);
        bytes.set(noise, records * 3073);
        for (let r = 0; r < records; r++) bytes[r * 3073] = noise[r] ?? r;
        const outcome = expectTypedOutcome(() => parseCifar10Batch(bytes, 'batch.bin', {}, complete));
        if (!(outcome instanceof FusionError)) {
          for (const label of outcome.y ?? []) expect(label).toBeLessThan(10);
          for (const v of outcome.x.data) expect(v >= 0 && v <= 1).toBe(true);
        }
      }),
      FUZZ_BUDGET,
    );
    const path = await tempFile(gzipSync(new Uint8Array(3073 * 2 + 5)));
    await expectTypedOutcomeAsync(() => readCifar10Batch(path));
  });
});
