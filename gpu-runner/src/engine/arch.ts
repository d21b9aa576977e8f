/**
 * Architecture IR. An architecture is plain data (the JSON forms of
 * docs/architecture.md), and every model in the engine is an architecture plus
 * its parameters under canonical names, in canonical (state_dict) order.
 *
 * Canonical names are the official CLAFusion repository's: `fc1.weight`,
 * `fc1.bias`, … for MLPs. Other naming conventions are translated at the
 * boundary (io/naming.ts).
 */
import { FusionError } from './errors.ts';
import { type Tensor32, numel, sameShape, shapeString } from './tensor.ts';

export interface MlpArch {
  family: 'mlp';
  /** Input shape before flattening, e.g. [784] or [1, 28, 28]. */
  input: number[];
  /** Widths of the hidden layers, input side first. */
  hidden: number[];
  classes: number;
  bias: boolean;
}

export type Arch = MlpArch;
export type Family = Arch['family'];

/** Parameters under canonical names, in canonical order. */
export type Params = Map<string, Tensor32>;

export interface Model {
  arch: Arch;
  params: Params;
}

/** One parameter tensor the architecture declares. */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** Index of the weight tensor ("layer") this parameter belongs to. */
  layer: number;
  role: 'weight' | 'bias';
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Validates an unknown value as an architecture and returns it typed, or
 * throws INVALID_ARCH naming the offending field.
 */
export function parseArch(value: unknown): Arch {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FusionError('INVALID_ARCH', 'architecture must be a JSON object', { field: 'arch' });
  }
  const v = value as Record<string, unknown>;
  switch (v.family) {
    case 'mlp':
      return parseMlpArch(v);
    default:
      throw new FusionError('INVALID_ARCH', `arch.family must be "mlp", got ${JSON.stringify(v.family)}`, {
        field: 'arch.family',
      });
  }
}

function parseMlpArch(v: Record<string, unknown>): MlpArch {
  const input = v.input;
  if (!Array.isArray(input) || input.length === 0 || !input.every(isPositiveInt)) {
    throw new FusionError('INVALID_ARCH', 'arch.input must be a non-empty array of positive integers', {
      field: 'arch.input',
    });
  }
  const hidden = v.hidden;
  if (!Array.isArray(hidden) || !hidden.every(isPositiveInt)) {
    throw new FusionError('INVALID_ARCH', 'arch.hidden must be an array of positive integers', { field: 'arch.hidden' });
  }
  if (!isPositiveInt(v.classes)) {
    throw new FusionError('INVALID_ARCH', 'arch.classes must be a positive integer', { field: 'arch.classes' });
  }
  const bias = v.bias ?? false;
  if (typeof bias !== 'boolean') {
    throw new FusionError('INVALID_ARCH', 'arch.bias must be true or false', { field: 'arch.bias' });
  }
  const known = new Set(['family', 'input', 'hidden', 'classes', 'bias']);
  for (const key of Object.keys(v)) {
    if (!known.has(key)) {
      throw new FusionError('INVALID_ARCH', `arch.${key} is not a field of an mlp architecture`, { field: `arch.${key}` });
    }
  }
  return { family: 'mlp', input: [...input], hidden: [...hidden], classes: v.classes, bias };
}

/** Flattened input size of an MLP. */
export function inputSize(arch: MlpArch): number {
  return numel(arch.input);
}

/** Number of weight tensors (hidden layers + classifier). */
export function layerCount(arch: Arch): number {
  return arch.hidden.length + 1;
}

/** Widths of every weight tensor's output: hidden widths, then classes. */
export function layerWidths(arch: Arch): number[] {
  return [...arch.hidden, arch.classes];
}

export function mlpWeightName(layer: number): string {
  return `fc${layer + 1}.weight`;
}

export function mlpBiasName(layer: number): string {
  return `fc${layer + 1}.bias`;
}

/** The parameters an architecture declares, in state_dict order. */
export function paramSpecs(arch: Arch): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const widths = layerWidths(arch);
  let fanIn = inputSize(arch);
  widths.forEach((out, layer) => {
    specs.push({ name: mlpWeightName(layer), shape: [out, fanIn], layer, role: 'weight' });
    if (arch.bias) specs.push({ name: mlpBiasName(layer), shape: [out], layer, role: 'bias' });
    fanIn = out;
  });
  return specs;
}

/**
 * Checks that `params` holds exactly the tensors `arch` declares, with the
 * declared shapes and finite values. Errors name the tensor.
 */
export function validateParams(arch: Arch, params: Params): void {
  const specs = paramSpecs(arch);
  const declared = new Set(specs.map((s) => s.name));
  for (const spec of specs) {
    const t = params.get(spec.name);
    if (t === undefined) {
      throw new FusionError('MISSING_TENSOR', `tensor ${spec.name} is missing (expected shape ${shapeString(spec.shape)})`, {
        tensor: spec.name,
      });
    }
    if (!sameShape(t.shape, spec.shape)) {
      throw new FusionError(
        'SHAPE_MISMATCH',
        `tensor ${spec.name} has shape ${shapeString(t.shape)} but the architecture needs ${shapeString(spec.shape)}`,
        { tensor: spec.name, shape: t.shape, expected: spec.shape },
      );
    }
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) {
        throw new FusionError('NON_FINITE', `tensor ${spec.name} contains ${t.data[i]} at flat index ${i}`, {
          tensor: spec.name,
          index: i,
        });
      }
    }
  }
  for (const name of params.keys()) {
    if (!declared.has(name)) {
      throw new FusionError('UNEXPECTED_TENSOR', `tensor ${name} is not part of the architecture`, { tensor: name });
    }
  }
}

/** Builds a model, validating it; params are re-ordered into canonical order. */
export function makeModel(arch: Arch, params: Params): Model {
  validateParams(arch, params);
  const ordered: Params = new Map();
  for (const spec of paramSpecs(arch)) ordered.set(spec.name, params.get(spec.name)!);
  return { arch, params: ordered };
}

/** The weight tensor of layer `layer` (0-based, classifier last). */
export function layerWeight(model: Model, layer: number): Tensor32 {
  const t = model.params.get(mlpWeightName(layer));
  if (t === undefined) throw new FusionError('MISSING_TENSOR', `tensor ${mlpWeightName(layer)} is missing`);
  return t;
}

export function layerBias(model: Model, layer: number): Tensor32 | undefined {
  return model.params.get(mlpBiasName(layer));
}

export function archEquals(a: Arch, b: Arch): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
