/**
 * Translation between the parameter names users' files carry and the
 * engine's canonical names (`fc1.weight`, `fc1.bias`, … — the official
 * CLAFusion repository's, see engine/arch.ts).
 *
 * An MLP state dict comes in one of two shapes:
 *  - official: `fc1.weight`, `fc1.bias`, …, `fc{H+1}.weight`;
 *  - sequential (an `nn.Sequential`): `<prefix><i>.weight|bias` where the
 *    linear layers' indices form an arithmetic progression — 0,2,4 when
 *    Linear and ReLU alternate, 1,3,5 when a Flatten comes first, 0,1,2, …
 *
 * Both are `<prefix><offset + k·stride>.<role>` for layer k, so one record,
 * MlpNaming, describes either and can write a model of ANY depth back in the
 * user's style (a fused model may be deeper or shallower than its inputs).
 *
 * NamingConvention is a union discriminated by `family`; the VGG and ResNet
 * conventions (official repository vs torchvision) live in naming-cnn.ts.
 *
 * The family of a file comes from the explicit arch, else from
 * `__metadata__.arch`, else from the names: `features.<i>.` means VGG,
 * `layerX.Y.` ResNet, anything else an MLP.
 */
import { type Arch, type Family, type Model, type Params, makeModel, mlpBiasName, mlpWeightName, paramSpecs, parseArch } from './arch.ts';
import { FusionError } from './errors.ts';
import { type Tensor32, shapeString } from './tensor.ts';
import {
  type CnnDetection,
  NUM_BATCHES_TRACKED,
  type ResNetNaming,
  type VggNaming,
  detectResNetNaming,
  detectVggNaming,
  inferResNetArch,
  inferVggArch,
  isIgnoredTensor,
  looksLikeResNet,
  looksLikeVgg,
  resnetUserName,
  vggUserName,
} from './naming-cnn.ts';
import type { TensorToWrite } from './safetensors.ts';

export { type CnnStyle, type ResNetNaming, type VggNaming, INFERRED_RESNET_SIZE, isIgnoredTensor } from './naming-cnn.ts';

export interface MlpNaming {
  family: 'mlp';
  /** Text before the layer index: 'fc' for the official names, '', 'layers.', 'net.', 'model.' … */
  prefix: string;
  /** Index of the first linear layer. */
  offset: number;
  /** Distance between the indices of consecutive linear layers (≥ 1). */
  stride: number;
}

export type NamingConvention = MlpNaming | VggNaming | ResNetNaming;

/** The canonical names, written as a convention. */
export const OFFICIAL_MLP_NAMING: MlpNaming = Object.freeze({ family: 'mlp', prefix: 'fc', offset: 1, stride: 1 });
export const OFFICIAL_VGG_NAMING: VggNaming = Object.freeze({ family: 'vgg', style: 'official' });
export const TORCHVISION_VGG_NAMING: VggNaming = Object.freeze({ family: 'vgg', style: 'torchvision' });
export const OFFICIAL_RESNET_NAMING: ResNetNaming = Object.freeze({ family: 'resnet', style: 'official' });
export const TORCHVISION_RESNET_NAMING: ResNetNaming = Object.freeze({ family: 'resnet', style: 'torchvision' });

/** The official repository's (= canonical) naming for a family, e.g. for a freshly trained model. */
export function officialNaming(family: Family): NamingConvention {
  switch (family) {
    case 'mlp':
      return OFFICIAL_MLP_NAMING;
    case 'vgg':
      return OFFICIAL_VGG_NAMING;
    case 'resnet':
      return OFFICIAL_RESNET_NAMING;
  }
}

/**
 * Stride assumed when a file holds a single linear layer, whose stride cannot
 * be observed: Linear/ReLU alternation (0, 2, 4, …) is the common Sequential.
 */
export const DEFAULT_SEQUENTIAL_STRIDE = 2;

/** Where the architecture came from, in priority order. */
export type ArchSource = 'argument' | 'metadata' | 'inferred';

export interface ToCanonicalOptions {
  /** An explicit architecture; wins over everything else. Validated with parseArch. */
  arch?: Arch;
  /** The file's `__metadata__`; its `arch` entry (a JSON string) is used when no `arch` is given. */
  metadata?: Record<string, string>;
}

export interface CanonicalResult {
  model: Model;
  convention: NamingConvention;
  archSource: ArchSource;
}

export function isOfficialMlpNaming(c: NamingConvention): boolean {
  return c.family === 'mlp' && c.prefix === OFFICIAL_MLP_NAMING.prefix && c.offset === 1 && c.stride === 1;
}

// ------------------------------------------------------------ detection

type Role = 'weight' | 'bias';

interface ParsedName {
  name: string;
  prefix: string;
  index: number;
  role: Role;
}

/** The linear layers found in a state dict, in layer order, under the user's names. */
interface DetectedLayers {
  convention: MlpNaming;
  weights: string[];
  biases: Array<string | undefined>;
}

// The prefix is matched lazily so the index is the LAST number before .weight/.bias.
const MLP_PARAM = /^(.*?)(0|[1-9]\d*)\.(weight|bias)$/;

function parseName(name: string): ParsedName {
  const m = MLP_PARAM.exec(name);
  if (m === null) {
    throw new FusionError(
      'UNEXPECTED_TENSOR',
      `tensor ${name} does not look like an MLP parameter (expected <prefix><index>.weight or <prefix><index>.bias)`,
      { tensor: name },
    );
  }
  return { name, prefix: m[1], index: Number(m[2]), role: m[3] as Role };
}

/** The prefix most names use; ties go to the first name seen, so errors name the odd one out. */
function dominantPrefix(parsed: ParsedName[]): string {
  const counts = new Map<string, number>();
  for (const p of parsed) counts.set(p.prefix, (counts.get(p.prefix) ?? 0) + 1);
  let best = parsed[0].prefix;
  for (const [prefix, count] of counts) if (count > counts.get(best)!) best = prefix;
  return best;
}

/** Detects the naming convention of an MLP state dict and lists its layers. */
export function detectMlpNaming(names: Iterable<string>): DetectedLayers {
  const parsed = [...names].map(parseName);
  const weights = parsed.filter((p) => p.role === 'weight').sort((a, b) => a.index - b.index);
  if (weights.length === 0) {
    throw new FusionError('MISSING_TENSOR', 'the state dict holds no linear weight (no tensor named <prefix><index>.weight)', {});
  }
  const prefix = dominantPrefix(parsed);
  for (const p of parsed) {
    if (p.prefix !== prefix) {
      throw new FusionError(
        'UNEXPECTED_TENSOR',
        `tensor ${p.name} has prefix ${JSON.stringify(p.prefix)} but the other parameters use ${JSON.stringify(prefix)}`,
        { tensor: p.name },
      );
    }
  }
  const offset = weights[0].index;
  let stride: number;
  if (weights.length > 1) stride = weights[1].index - weights[0].index;
  else stride = prefix === OFFICIAL_MLP_NAMING.prefix && offset === 1 ? 1 : DEFAULT_SEQUENTIAL_STRIDE;
  weights.forEach((w, k) => {
    if (w.index !== offset + k * stride) {
      throw new FusionError(
        'UNEXPECTED_TENSOR',
        `tensor ${w.name} breaks the index progression ${offset}, ${offset + stride}, … (stride ${stride}) of the linear layers before it`,
        { tensor: w.name },
      );
    }
  });
  const layerOfIndex = new Map(weights.map((w, k) => [w.index, k]));
  const biases: Array<string | undefined> = weights.map(() => undefined);
  for (const b of parsed.filter((p) => p.role === 'bias')) {
    const layer = layerOfIndex.get(b.index);
    if (layer === undefined) {
      throw new FusionError('UNEXPECTED_TENSOR', `tensor ${b.name} is a bias without a matching ${prefix}${b.index}.weight`, {
        tensor: b.name,
      });
    }
    biases[layer] = b.name;
  }
  return { convention: { family: 'mlp', prefix, offset, stride }, weights: weights.map((w) => w.name), biases };
}

// ------------------------------------------------------------ formatting

function checkConvention(c: NamingConvention): void {
  if (c.family === 'vgg' || c.family === 'resnet') {
    if (c.style !== 'official' && c.style !== 'torchvision') {
      throw new FusionError('INVALID_ARGUMENT', `convention.style must be "official" or "torchvision", got ${JSON.stringify(c.style)}`, {
        field: 'convention.style',
      });
    }
    return;
  }
  if (c.family !== 'mlp') {
    throw new FusionError('INVALID_ARGUMENT', `naming convention family ${JSON.stringify((c as { family: unknown }).family)} is not supported`, {
      field: 'convention.family',
    });
  }
  if (typeof c.prefix !== 'string') {
    throw new FusionError('INVALID_ARGUMENT', 'convention.prefix must be a string', { field: 'convention.prefix' });
  }
  if (!Number.isSafeInteger(c.offset) || c.offset < 0) {
    throw new FusionError('INVALID_ARGUMENT', `convention.offset must be a non-negative integer, got ${c.offset}`, {
      field: 'convention.offset',
    });
  }
  if (!Number.isSafeInteger(c.stride) || c.stride < 1) {
    throw new FusionError('INVALID_ARGUMENT', `convention.stride must be a positive integer, got ${c.stride}`, {
      field: 'convention.stride',
    });
  }
}

function mlpName(c: MlpNaming, layer: number, role: Role): string {
  return `${c.prefix}${c.offset + layer * c.stride}.${role}`;
}

const CANONICAL_MLP_PARAM = /^fc([1-9]\d*)\.(weight|bias)$/;

/** The user-facing name of a canonical parameter name (unchanged if it is not one). */
export function userParamName(canonical: string, convention: NamingConvention): string {
  switch (convention.family) {
    case 'vgg':
      return vggUserName(canonical, convention);
    case 'resnet':
      return resnetUserName(canonical, convention);
    case 'mlp': {
      const m = CANONICAL_MLP_PARAM.exec(canonical);
      if (m === null) return canonical;
      return mlpName(convention, Number(m[1]) - 1, m[2] as Role);
    }
  }
}

/**
 * Writes a model's parameters under `convention`'s names, in state_dict
 * order. The convention must be of the model's family.
 */
export function fromCanonical(model: Model, convention: NamingConvention): Map<string, Tensor32> {
  checkConvention(convention);
  if (convention.family !== model.arch.family) {
    throw new FusionError(
      'INVALID_ARGUMENT',
      `a ${model.arch.family} model cannot be written in a ${convention.family} naming convention`,
      { field: 'convention.family' },
    );
  }
  const out = new Map<string, Tensor32>();
  for (const spec of paramSpecs(model.arch)) {
    const t = model.params.get(spec.name);
    if (t === undefined) {
      throw new FusionError('MISSING_TENSOR', `tensor ${spec.name} is missing from the model`, { tensor: spec.name });
    }
    out.set(convention.family === 'mlp' ? mlpName(convention, spec.layer, spec.role as Role) : userParamName(spec.name, convention), t);
  }
  return out;
}

/**
 * fromCanonical plus every BatchNorm's `num_batches_tracked` (an int64
 * scalar, 0) right after its running_var, so the file holds exactly the keys
 * of PyTorch's `state_dict()`. PyTorch's BatchNorm would also accept the file
 * without them (its _load_from_state_dict fills a missing counter when the
 * state dict carries no version metadata, which a safetensors dict never
 * does), but tools that compare key sets strictly would not. The counter
 * only matters with momentum=None (cumulative averaging), which no model
 * here uses; 0 is what a fresh BatchNorm holds.
 */
export function stateDictToWrite(model: Model, convention: NamingConvention): Map<string, TensorToWrite> {
  const floats = fromCanonical(model, convention);
  const out = new Map<string, TensorToWrite>();
  const specs = paramSpecs(model.arch);
  [...floats].forEach(([name, t], i) => {
    out.set(name, t);
    if (specs[i].role === 'bn.running_var') {
      const prefix = name.slice(0, -'running_var'.length);
      out.set(`${prefix}${NUM_BATCHES_TRACKED}`, { dtype: 'I64', shape: [], data: [0] });
    }
  });
  return out;
}

// ------------------------------------------------------------ architecture

function archFromMetadata(text: string): Arch {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FusionError('INVALID_ARCH', `__metadata__.arch is not valid JSON: ${(err as Error).message}`, {
      field: '__metadata__.arch',
    });
  }
  try {
    return parseArch(json);
  } catch (err) {
    if (!(err instanceof FusionError)) throw err;
    const field = typeof err.details.field === 'string' ? `__metadata__.${err.details.field}` : '__metadata__.arch';
    throw new FusionError('INVALID_ARCH', `__metadata__.arch is not a valid architecture: ${err.message}`, { ...err.details, field });
  }
}

/**
 * Infers an MLP architecture from the weights' shapes: input = in-dim of the
 * first layer, hidden = out-dims of all but the last, classes = out-dim of
 * the last, bias = whether any bias is present (a partial set is then
 * reported as missing tensors by the final validation).
 */
function inferMlpArch(layers: DetectedLayers, stateDict: Map<string, Tensor32>): Arch {
  const shapes = layers.weights.map((name) => {
    const shape = stateDict.get(name)!.shape;
    if (shape.length !== 2) {
      throw new FusionError(
        'SHAPE_MISMATCH',
        `tensor ${name} has shape ${shapeString(shape)}; a linear weight must be 2-D [out, in]`,
        { tensor: name, shape },
      );
    }
    return shape;
  });
  for (let k = 1; k < shapes.length; k++) {
    if (shapes[k][1] !== shapes[k - 1][0]) {
      const [prev, cur] = [layers.weights[k - 1], layers.weights[k]];
      throw new FusionError(
        'SHAPE_MISMATCH',
        `tensor ${cur} takes ${shapes[k][1]} inputs but tensor ${prev} produces ${shapes[k - 1][0]} outputs`,
        { tensor: cur, previous: prev, shape: shapes[k], previousShape: shapes[k - 1] },
      );
    }
  }
  return {
    family: 'mlp',
    input: [shapes[0][1]],
    hidden: shapes.slice(0, -1).map((s) => s[0]),
    classes: shapes[shapes.length - 1][0],
    bias: layers.biases.some((b) => b !== undefined),
  };
}

/** Re-throws an engine error with canonical tensor names replaced by the user's. */
function inUserNaming(err: unknown, convention: NamingConvention): unknown {
  if (!(err instanceof FusionError) || typeof err.details.tensor !== 'string') return err;
  const canonical = err.details.tensor;
  const user = userParamName(canonical, convention);
  if (user === canonical) return err;
  const message = err.message.split(canonical).join(`${user} (${canonical})`);
  return new FusionError(err.code, message, { ...err.details, tensor: user, canonicalTensor: canonical });
}

/** The family of a state dict from its names alone. */
function familyFromNames(names: readonly string[]): Family {
  if (looksLikeVgg(names)) return 'vgg';
  if (looksLikeResNet(names)) return 'resnet';
  return 'mlp';
}

interface Renamed {
  convention: NamingConvention;
  /** The tensors under canonical names. */
  params: Params;
  /** Infers the architecture; its errors name tensors in the user's naming. */
  infer: () => Arch;
}

function renameMlp(stateDict: Map<string, Tensor32>): Renamed {
  const layers = detectMlpNaming(stateDict.keys());
  const params: Params = new Map();
  layers.weights.forEach((name, k) => params.set(mlpWeightName(k), stateDict.get(name)!));
  layers.biases.forEach((name, k) => {
    if (name !== undefined) params.set(mlpBiasName(k), stateDict.get(name)!);
  });
  return { convention: layers.convention, params, infer: () => inferMlpArch(layers, stateDict) };
}

function renameCnn<N extends NamingConvention>(
  stateDict: Map<string, Tensor32>,
  detection: CnnDetection<N>,
  infer: (params: Params) => Arch,
  convention: N,
): Renamed {
  const params: Params = new Map();
  for (const [name, t] of stateDict) params.set(detection.canonical.get(name)!, t);
  const inferInUserNaming = (): Arch => {
    try {
      return infer(params);
    } catch (err) {
      throw inUserNaming(err, convention);
    }
  };
  return { convention, params, infer: inferInUserNaming };
}

/**
 * Converts a state dict (any order, any supported naming) to a validated
 * canonical model. The architecture comes from `options.arch`, else from
 * `options.metadata.arch`, else from the tensors' names and shapes.
 * `*.num_batches_tracked` tensors are ignored. Errors name tensors as the
 * user's file names them.
 */
export function toCanonical(stateDict: Map<string, Tensor32>, options: ToCanonicalOptions = {}): CanonicalResult {
  let arch: Arch | undefined;
  let archSource: ArchSource = 'inferred';
  if (options.arch !== undefined) {
    arch = parseArch(options.arch);
    archSource = 'argument';
  } else if (options.metadata?.arch !== undefined) {
    arch = archFromMetadata(options.metadata.arch);
    archSource = 'metadata';
  }
  const kept = new Map([...stateDict].filter(([name]) => !isIgnoredTensor(name)));
  const family = arch?.family ?? familyFromNames([...kept.keys()]);
  let renamed: Renamed;
  switch (family) {
    case 'mlp':
      renamed = renameMlp(kept);
      break;
    case 'vgg': {
      const detection = detectVggNaming([...kept.keys()]);
      renamed = renameCnn(kept, detection, inferVggArch, detection.convention);
      break;
    }
    case 'resnet': {
      const detection = detectResNetNaming([...kept.keys()]);
      renamed = renameCnn(kept, detection, inferResNetArch, detection.convention);
      break;
    }
  }
  const { convention } = renamed;
  const resolved = arch ?? renamed.infer();
  try {
    return { model: makeModel(resolved, renamed.params), convention, archSource };
  } catch (err) {
    throw inUserNaming(err, convention);
  }
}
