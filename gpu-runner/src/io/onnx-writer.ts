/**
 * Exports a model as an ONNX graph (onnx.proto's ModelProto), so it runs in
 * any ONNX runtime (onnxruntime, onnxruntime-web, …) without rebuilding the
 * network by hand.
 *
 * The graph computes exactly the engine's forward pass in eval mode
 * (engine/nn: mlp.ts, vgg.ts, resnet.ts) with standard operators of the
 * default domain at opset 13 (IR version 7): Gemm (transB=1, PyTorch's
 * [out, in] weights as they are), Conv, BatchNormalization (eps 1e-5,
 * running statistics), Relu, MaxPool, Add, GlobalAveragePool, Flatten.
 *
 * - input `input`: float32 [batch, …arch.input] for an MLP, [batch, C, H, W]
 *   for VGG and ResNet, the NCHW layout of our datasets and of PyTorch;
 * - output `logits`: float32 [batch, classes], before any softmax (the MLP's
 *   log-softmax, which the official model returns, is not part of the graph);
 * - `batch` is a symbolic (dynamic) dimension.
 *
 * Weights are initializers under the canonical (official repository) names;
 * `metadata_props` holds `clafusion.arch` (the architecture's JSON) and the
 * caller's metadata. The output is a pure function of the model.
 *
 * With `taps` (serializeModelOnnxWithTaps), the graph also outputs every
 * value the engine records (engine/nn/forward.ts, the tap definitions in
 * vgg.ts, resnet.ts, mlp.ts), before or after its ReLU, so an ONNX runtime
 * can record a model's calibration activations.
 */
import { type Arch, type LayerSpec, type Model, inputChannels, layerSpecs, validateParams } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { ProtoMessage } from './protobuf-writer.ts';

export const ONNX_OPSET = 13;
/** The IR version that goes with opset 13 (ONNX 1.8). */
export const ONNX_IR_VERSION = 7;
export const ONNX_INPUT_NAME = 'input';
export const ONNX_OUTPUT_NAME = 'logits';
const BATCH_DIM = 'batch';
/**
 * BatchNorm's epsilon: torch.nn.BatchNorm2d's default, as engine/nn/batchnorm.ts
 * uses it (not imported: the file layer stays free of tfjs). The export
 * tests compare logits of BatchNorm models, so the two cannot drift apart.
 */
const BN_EPS = 1e-5;

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_FLOAT = 1; // AttributeProto.AttributeType
const ATTR_INT = 2;
const ATTR_INTS = 7;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface OnnxExportOptions {
  /** Extra `metadata_props` entries (e.g. `clafusion.version`). */
  metadata?: Record<string, string>;
  producerVersion?: string;
  /**
   * Also output the engine's taps, as forward(…, { taps: true, activations })
   * records them: 'pre' the value fed to each layer's ReLU (or addition),
   * 'post' that value after ReLU, except the last tap (the logits).
   */
  taps?: 'pre' | 'post';
}

type Attribute = number | readonly number[] | { float: number };

function attribute(name: string, value: Attribute): ProtoMessage {
  const a = new ProtoMessage().string(1, name);
  if (typeof value === 'number') return a.int(3, value).int(20, ATTR_INT);
  if ('float' in value) return a.float(2, value.float).int(20, ATTR_FLOAT);
  return a.ints(8, value).int(20, ATTR_INTS);
}

function floatBytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const dv = new DataView(out.buffer);
  data.forEach((v, i) => dv.setFloat32(4 * i, v, true));
  return out;
}

/** Shape of a graph input/output: `null` for the symbolic batch dimension; no dims: a float tensor of unstated shape. */
function valueInfo(name: string, dims?: readonly (number | null)[]): ProtoMessage {
  const tensorType = new ProtoMessage().int(1, FLOAT);
  if (dims !== undefined) {
    const shape = new ProtoMessage();
    for (const d of dims) shape.message(1, d === null ? new ProtoMessage().string(2, BATCH_DIM) : new ProtoMessage().int(1, d));
    tensorType.message(2, shape);
  }
  return new ProtoMessage().string(1, name).message(2, new ProtoMessage().message(1, tensorType));
}

/** Collects nodes and initializers; value names are the producing node's name. */
class GraphBuilder {
  readonly nodes: ProtoMessage[] = [];
  readonly initializers: ProtoMessage[] = [];
  /** The values the engine records, in its tap order (see tap()). */
  readonly taps: string[] = [];
  private readonly names = new Set<string>();
  /** The Relu node already applied to a value, so post-ReLU taps reuse it. */
  private readonly relus = new Map<string, string>();

  constructor(private readonly model: Model) {}

  /** Marks `value` as the next tap (its pre-ReLU value; the last tap is the logits). */
  tap(value: string): void {
    this.taps.push(value);
  }

  /** The tap outputs: each tap, after its ReLU for 'post' (all but the last, the logits). */
  tapOutputs(activations: 'pre' | 'post'): string[] {
    if (activations === 'pre') return [...this.taps];
    return this.taps.map((t, k) => (k === this.taps.length - 1 ? t : (this.relus.get(t) ?? this.relu(t, `${t}.tap_relu`))));
  }

  /** A parameter of the model as an initializer, named as in the state dict. */
  param(name: string): string {
    const t: Tensor32 | undefined = this.model.params.get(name);
    if (t === undefined) throw new FusionError('MISSING_TENSOR', `tensor ${name} is missing`, { tensor: name });
    this.initializers.push(new ProtoMessage().ints(1, t.shape).int(2, FLOAT).string(8, name).bytes(9, floatBytes(t.data)));
    return name;
  }

  /** Adds a node with one output named `name` (unique), and returns that name. */
  node(op: string, name: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}): string {
    if (this.names.has(name)) throw new FusionError('INVALID_ARGUMENT', `onnx export: node name ${name} is used twice`);
    this.names.add(name);
    const n = new ProtoMessage().strings(1, inputs).string(2, name).string(3, name).string(4, op);
    for (const [key, value] of Object.entries(attributes)) n.message(5, attribute(key, value));
    this.nodes.push(n);
    return name;
  }

  /** Conv (+ bias) (+ BatchNorm): the layer's value before its ReLU. */
  conv(spec: LayerSpec, x: string): string {
    const inputs = [x, this.param(spec.weight)];
    if (spec.bias) inputs.push(this.param(spec.bias));
    const [kh, kw] = spec.shape.slice(2);
    const p = spec.padding;
    let y = this.node('Conv', spec.module, inputs, {
      kernel_shape: [kh, kw],
      strides: [spec.stride, spec.stride],
      pads: [p, p, p, p],
      dilations: [1, 1],
      group: 1,
    });
    if (spec.bn) {
      const bn = spec.bn;
      y = this.node(
        'BatchNormalization',
        bn,
        [y, this.param(`${bn}.weight`), this.param(`${bn}.bias`), this.param(`${bn}.running_mean`), this.param(`${bn}.running_var`)],
        { epsilon: { float: BN_EPS } },
      );
    }
    return y;
  }

  /** x·Wᵀ (+ b) with W [out, in] as stored. */
  linear(spec: LayerSpec, x: string, output = spec.module): string {
    const inputs = [x, this.param(spec.weight)];
    if (spec.bias) inputs.push(this.param(spec.bias));
    return this.node('Gemm', output, inputs, { transB: 1 });
  }

  relu(x: string, name = `${x}.relu`): string {
    const y = this.node('Relu', name, [x]);
    this.relus.set(x, y);
    return y;
  }
}

function buildMlp(g: GraphBuilder, arch: Extract<Arch, { family: 'mlp' }>): void {
  const specs = layerSpecs(arch);
  let h = arch.input.length > 1 ? g.node('Flatten', 'flatten', [ONNX_INPUT_NAME], { axis: 1 }) : ONNX_INPUT_NAME;
  specs.forEach((spec, k) => {
    const last = k === specs.length - 1;
    const z = g.linear(spec, h, last ? ONNX_OUTPUT_NAME : spec.module);
    g.tap(z);
    h = last ? z : g.relu(z);
  });
}

function buildVgg(g: GraphBuilder, arch: Extract<Arch, { family: 'vgg' }>): void {
  const specs = layerSpecs(arch);
  let h = ONNX_INPUT_NAME;
  let k = 0;
  let pools = 0;
  for (const entry of arch.config) {
    if (entry === 'M') {
      h = g.node('MaxPool', `maxpool${pools++}`, [h], { kernel_shape: [2, 2], strides: [2, 2] });
      continue;
    }
    const z = g.conv(specs[k++], h);
    g.tap(z);
    h = g.relu(z);
  }
  // Flatten of the NCHW map: C,H,W order, as the classifier's weights expect.
  h = g.node('Flatten', 'flatten', [h], { axis: 1 });
  for (; k < specs.length; k++) {
    const last = k === specs.length - 1;
    const z = g.linear(specs[k], h, last ? ONNX_OUTPUT_NAME : specs[k].module);
    g.tap(z);
    h = last ? z : g.relu(z);
  }
}

function buildResNet(g: GraphBuilder, arch: Extract<Arch, { family: 'resnet' }>): void {
  const specs = layerSpecs(arch);
  let k = 0;
  const stem = g.conv(specs[k++], ONNX_INPUT_NAME);
  g.tap(stem);
  let h = g.relu(stem);
  while (specs[k].role === 'conv1') {
    const conv1 = specs[k++];
    const conv2 = specs[k++];
    const shortcut = specs[k].role === 'shortcut' ? specs[k++] : undefined;
    const prefix = conv1.module.slice(0, -'.conv1'.length);
    const a = g.conv(conv1, h);
    g.tap(a);
    const b = g.conv(conv2, g.relu(a));
    const skip = shortcut === undefined ? h : g.conv(shortcut, h);
    const sum = g.node('Add', `${prefix}.add`, [b, skip]);
    // Tap order as resnet.ts records it: conv1, the block sum (conv2's tap), then the shortcut.
    g.tap(sum);
    if (shortcut !== undefined) g.tap(skip);
    h = g.relu(sum, `${prefix}.relu`);
  }
  const pooled = g.node('GlobalAveragePool', 'avgpool', [h]);
  const flat = g.node('Flatten', 'flatten', [pooled], { axis: 1 });
  g.tap(g.linear(specs[k], flat, ONNX_OUTPUT_NAME));
}

/** The ONNX input shape: the per-sample shape of our data after a batch dimension. */
function inputDims(arch: Arch): number[] {
  if (arch.family === 'mlp') return arch.input;
  return [inputChannels(arch), arch.input[0], arch.input[1]];
}

/** Serializes `model` as an ONNX ModelProto (see the file comment). */
export function serializeModelOnnx(model: Model, options: OnnxExportOptions = {}): Uint8Array {
  return serializeModelOnnxWithTaps(model, options).bytes;
}

/**
 * serializeModelOnnx, also naming the graph outputs that hold the taps when
 * `options.taps` asks for them: `tapOutputs[k]` is tap k in the engine's
 * order (forward.ts), the last being `logits`; each is [batch, C, H, W] for
 * a conv layer (its tap flattened in C,H,W order) or [batch, width]. Graph
 * outputs: `logits`, then the other taps in order.
 */
export function serializeModelOnnxWithTaps(model: Model, options: OnnxExportOptions = {}): { bytes: Uint8Array; tapOutputs: string[] } {
  validateParams(model.arch, model.params);
  const { arch } = model;
  const g = new GraphBuilder(model);
  switch (arch.family) {
    case 'mlp':
      buildMlp(g, arch);
      break;
    case 'vgg':
      buildVgg(g, arch);
      break;
    case 'resnet':
      buildResNet(g, arch);
      break;
  }
  const tapOutputs = options.taps === undefined ? [] : g.tapOutputs(options.taps);
  const graph = new ProtoMessage()
    .messages(1, g.nodes)
    .string(2, `clafusion-${arch.family}`)
    .messages(5, g.initializers)
    .message(11, valueInfo(ONNX_INPUT_NAME, [null, ...inputDims(arch)]))
    .message(12, valueInfo(ONNX_OUTPUT_NAME, [null, arch.classes]));
  // Tap outputs are left unshaped: the runtime infers them, and the engine's tapShapes say them.
  for (const name of tapOutputs) if (name !== ONNX_OUTPUT_NAME) graph.message(12, valueInfo(name));
  const metadata: Record<string, string> = { ...options.metadata, 'clafusion.arch': JSON.stringify(arch) };
  const props = Object.keys(metadata)
    .sort()
    .map((key) => new ProtoMessage().string(1, key).string(2, metadata[key]));
  const bytes = new ProtoMessage()
    .int(1, ONNX_IR_VERSION)
    .string(2, 'clafusion')
    .string(3, options.producerVersion ?? '')
    .message(7, graph)
    .message(8, new ProtoMessage().string(1, '').int(2, ONNX_OPSET))
    .messages(14, props)
    .finish();
  return { bytes, tapOutputs };
}
