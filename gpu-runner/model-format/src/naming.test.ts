import { describe, expect, it } from 'vitest';
import { type MlpArch, makeModel, paramSpecs } from './arch.ts';
import { type Tensor32, tensor32 } from './tensor.ts';
import { type MlpNaming, OFFICIAL_MLP_NAMING, detectMlpNaming, fromCanonical, isOfficialMlpNaming, toCanonical, userParamName } from './naming.ts';

/** A small model with distinct, deterministic values in every tensor. */
function tinyModel(arch: MlpArch) {
  const params = new Map<string, Tensor32>();
  paramSpecs(arch).forEach((spec, s) => {
    const t = tensor32(spec.shape);
    for (let i = 0; i < t.data.length; i++) t.data[i] = s + i / 100;
    params.set(spec.name, t);
  });
  return makeModel(arch, params);
}

const arch3: MlpArch = { family: 'mlp', input: [6], hidden: [5, 4], classes: 3, bias: true };
const sequential = (prefix: string, offset: number, stride: number): MlpNaming => ({ family: 'mlp', prefix, offset, stride });

/** Shuffles entries deterministically so tests do not depend on state-dict order. */
function reversed<K, V>(m: Map<K, V>): Map<K, V> {
  return new Map([...m].reverse());
}

function expectError(fn: () => unknown, code: string, ...fragments: string[]) {
  try {
    fn();
  } catch (err) {
    const e = err as { code: string; message: string };
    expect(e.code).toBe(code);
    for (const f of fragments) expect(e.message).toContain(f);
    return err as { details: Record<string, unknown> };
  }
  throw new Error('expected an error');
}

describe('detectMlpNaming', () => {
  it.each([
    [['fc1.weight', 'fc2.weight', 'fc3.weight'], sequential('fc', 1, 1)],
    [['0.weight', '2.weight', '4.weight'], sequential('', 0, 2)],
    [['layers.1.weight', 'layers.3.weight', 'layers.5.weight', 'layers.1.bias'], sequential('layers.', 1, 2)],
    [['net.0.weight', 'net.1.weight', 'net.2.weight'], sequential('net.', 0, 1)],
    [['model.10.weight', 'model.12.weight'], sequential('model.', 10, 2)],
    [['block2.seq.0.weight', 'block2.seq.2.weight'], sequential('block2.seq.', 0, 2)],
    [['fc1.weight'], sequential('fc', 1, 1)],
    [['net.1.weight'], sequential('net.', 1, 2)],
  ])('%j → %j', (names, convention) => {
    expect(detectMlpNaming(names).convention).toEqual(convention);
  });

  it('recognises the official names', () => {
    expect(isOfficialMlpNaming(detectMlpNaming(['fc2.weight', 'fc1.weight']).convention)).toBe(true);
    expect(isOfficialMlpNaming(sequential('layers.', 1, 1))).toBe(false);
  });

  it('rejects names that are not MLP parameters, mixed prefixes, gaps and orphan biases', () => {
    expectError(() => detectMlpNaming(['fc1.weight', 'bn1.running_mean']), 'UNEXPECTED_TENSOR', 'bn1.running_mean');
    expectError(() => detectMlpNaming(['fc1.weight', 'fc2.weight', 'layers.3.weight']), 'UNEXPECTED_TENSOR', 'layers.3.weight', '"fc"');
    expectError(() => detectMlpNaming(['0.weight', '2.weight', '5.weight']), 'UNEXPECTED_TENSOR', '5.weight', 'stride 2');
    expectError(() => detectMlpNaming(['0.weight', '2.weight', '3.bias']), 'UNEXPECTED_TENSOR', '3.bias', 'without a matching 3.weight');
    expectError(() => detectMlpNaming(['fc1.bias']), 'MISSING_TENSOR', 'no linear weight');
    expectError(() => detectMlpNaming([]), 'MISSING_TENSOR');
  });
});

describe('round trips', () => {
  const conventions: MlpNaming[] = [OFFICIAL_MLP_NAMING, sequential('', 0, 2), sequential('layers.', 1, 2), sequential('net.', 0, 1)];

  it.each(conventions)('canonical → %j → canonical is the identity', (convention) => {
    const model = tinyModel(arch3);
    const stateDict = fromCanonical(model, convention);
    const back = toCanonical(reversed(stateDict));
    expect(back.convention).toEqual(convention);
    expect(back.archSource).toBe('inferred');
    expect(back.model.arch).toEqual(arch3);
    expect([...back.model.params.keys()]).toEqual([...model.params.keys()]);
    for (const [name, t] of model.params) expect(back.model.params.get(name)).toBe(t);
  });

  it('writes the expected names in state_dict order', () => {
    const names = [...fromCanonical(tinyModel(arch3), sequential('layers.', 1, 2)).keys()];
    expect(names).toEqual(['layers.1.weight', 'layers.1.bias', 'layers.3.weight', 'layers.3.bias', 'layers.5.weight', 'layers.5.bias']);
  });

  it('writes a model of a different depth in the detected style', () => {
    const input = fromCanonical(tinyModel({ family: 'mlp', input: [6], hidden: [4], classes: 3, bias: false }), sequential('net.', 0, 2));
    const { convention } = toCanonical(input);
    const deeper = tinyModel({ family: 'mlp', input: [6], hidden: [5, 5, 4], classes: 3, bias: false });
    const out = fromCanonical(deeper, convention);
    expect([...out.keys()]).toEqual(['net.0.weight', 'net.2.weight', 'net.4.weight', 'net.6.weight']);
    expect(toCanonical(out).model.arch).toEqual(deeper.arch);
  });

  it('a single-layer sequential file defaults to stride 2', () => {
    const single = fromCanonical(tinyModel({ family: 'mlp', input: [4], hidden: [], classes: 2, bias: false }), sequential('', 0, 2));
    const { convention } = toCanonical(single);
    expect(convention).toEqual(sequential('', 0, 2));
    const deeper = fromCanonical(tinyModel({ family: 'mlp', input: [4], hidden: [3], classes: 2, bias: false }), convention);
    expect([...deeper.keys()]).toEqual(['0.weight', '2.weight']);
  });

  it('fromCanonical refuses an invalid convention', () => {
    expectError(() => fromCanonical(tinyModel(arch3), sequential('x.', 0, 0)), 'INVALID_ARGUMENT', 'convention.stride');
    expectError(() => fromCanonical(tinyModel(arch3), sequential('x.', -1, 1)), 'INVALID_ARGUMENT', 'convention.offset');
  });

  it('userParamName maps canonical names only', () => {
    expect(userParamName('fc3.bias', sequential('layers.', 1, 2))).toBe('layers.5.bias');
    expect(userParamName('features.0.weight', sequential('layers.', 1, 2))).toBe('features.0.weight');
  });
});

describe('architecture priority', () => {
  const model = tinyModel({ family: 'mlp', input: [6], hidden: [5, 4], classes: 3, bias: false });
  const stateDict = fromCanonical(model, sequential('', 0, 2));
  const imageArch: MlpArch = { family: 'mlp', input: [1, 2, 3], hidden: [5, 4], classes: 3, bias: false };

  it('explicit arch beats metadata, metadata beats inference', () => {
    const metadataArch = JSON.stringify({ ...imageArch, input: [6, 1] });
    const explicit = toCanonical(stateDict, { arch: imageArch, metadata: { arch: metadataArch } });
    expect(explicit.archSource).toBe('argument');
    expect(explicit.model.arch.input).toEqual([1, 2, 3]);
    const fromMetadata = toCanonical(stateDict, { metadata: { arch: metadataArch, other: 'x' } });
    expect(fromMetadata.archSource).toBe('metadata');
    expect(fromMetadata.model.arch.input).toEqual([6, 1]);
    const inferred = toCanonical(stateDict, { metadata: { other: 'x' } });
    expect(inferred.archSource).toBe('inferred');
    expect(inferred.model.arch.input).toEqual([6]);
  });

  it('an explicit arch is validated', () => {
    expectError(() => toCanonical(stateDict, { arch: { ...imageArch, classes: 0 } }), 'INVALID_ARCH', 'arch.classes');
  });

  it('bad JSON or a bad architecture in __metadata__.arch is INVALID_ARCH naming __metadata__.arch', () => {
    const e1 = expectError(() => toCanonical(stateDict, { metadata: { arch: '{"family":' } }), 'INVALID_ARCH', '__metadata__.arch', 'not valid JSON');
    expect(e1.details.field).toBe('__metadata__.arch');
    const e2 = expectError(
      () => toCanonical(stateDict, { metadata: { arch: '{"family":"mlp","input":[6],"hidden":[5,4],"classes":-3}' } }),
      'INVALID_ARCH',
      '__metadata__.arch',
      'arch.classes',
    );
    expect(e2.details.field).toBe('__metadata__.arch.classes');
  });
});

describe('validation names tensors in the user naming', () => {
  const base = fromCanonical(tinyModel({ family: 'mlp', input: [6], hidden: [5, 4], classes: 3, bias: true }), sequential('layers.', 0, 2));

  it('an inconsistent chain is SHAPE_MISMATCH naming both tensors', () => {
    const broken = new Map(base);
    broken.set('layers.2.weight', tensor32([4, 7]));
    const e = expectError(() => toCanonical(broken), 'SHAPE_MISMATCH', 'layers.2.weight', 'layers.0.weight', 'takes 7 inputs', 'produces 5');
    expect(e.details.tensor).toBe('layers.2.weight');
  });

  it('a non-2-D weight is SHAPE_MISMATCH', () => {
    const broken = new Map(base);
    broken.set('layers.0.weight', tensor32([5, 6, 1]));
    expectError(() => toCanonical(broken), 'SHAPE_MISMATCH', 'layers.0.weight', '2-D');
  });

  it('a shape that disagrees with an explicit arch names the user tensor', () => {
    const arch: MlpArch = { family: 'mlp', input: [6], hidden: [5, 9], classes: 3, bias: true };
    const e = expectError(() => toCanonical(base, { arch }), 'SHAPE_MISMATCH', 'layers.2.weight (fc2.weight)', '[9, 5]');
    expect(e.details).toMatchObject({ tensor: 'layers.2.weight', canonicalTensor: 'fc2.weight' });
  });

  it('missing and unexpected tensors name the user tensor', () => {
    const noBias = new Map(base);
    noBias.delete('layers.2.bias');
    expectError(() => toCanonical(noBias), 'MISSING_TENSOR', 'layers.2.bias');
    const shallowArch: MlpArch = { family: 'mlp', input: [6], hidden: [5], classes: 4, bias: true };
    expectError(() => toCanonical(base, { arch: shallowArch }), 'UNEXPECTED_TENSOR', 'layers.4.weight (fc3.weight)');
    const deepArch: MlpArch = { family: 'mlp', input: [6], hidden: [5, 4, 3], classes: 3, bias: true };
    expectError(() => toCanonical(base, { arch: deepArch }), 'MISSING_TENSOR', 'layers.6.weight (fc4.weight)');
    const withBiasFalse: MlpArch = { family: 'mlp', input: [6], hidden: [5, 4], classes: 3, bias: false };
    expectError(() => toCanonical(base, { arch: withBiasFalse }), 'UNEXPECTED_TENSOR', 'layers.0.bias');
    const fewerLayers = new Map([...base].filter(([n]) => !n.startsWith('layers.4')));
    expectError(() => toCanonical(fewerLayers, { arch: { family: 'mlp', input: [6], hidden: [5, 4], classes: 3, bias: true } }), 'MISSING_TENSOR', 'layers.4.weight');
  });

  it('NaN and Inf name the user tensor', () => {
    const bad = new Map(base);
    const t = tensor32([4], [0, 0, Number.NaN, 0]);
    bad.set('layers.2.bias', t);
    expectError(() => toCanonical(bad), 'NON_FINITE', 'layers.2.bias', 'NaN', 'index 2');
  });
});
