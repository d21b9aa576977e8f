/**
 * The fused model in the formats a job spec's `outputs` asks for beyond
 * fused.safetensors (which is always written): fused.pt, the same state dict
 * as a torch.load-able file, and fused.onnx, the network as an ONNX model.
 */
import type { FusionSpec } from '@clafusion/contract';
import type { Model } from '@clafusion/model-format/arch';
import type { NamingConvention } from '@clafusion/model-format/naming';
import { serializeModelOnnx } from '../io/onnx-writer.ts';
import { serializeModelPytorch } from '../io/pytorch-writer.ts';
import { ENGINE_VERSION } from '../pipeline/version.ts';
import type { ThreadResult } from './thread-protocol.ts';

export function fusedExports(
  outputs: FusionSpec['outputs'],
  model: Model,
  convention: NamingConvention,
  metadata: Record<string, string>,
): ThreadResult['exports'] {
  const wanted = new Set(outputs ?? []);
  const exports: ThreadResult['exports'] = [];
  if (wanted.has('pt')) exports.push({ name: 'fused.pt', bytes: serializeModelPytorch(model, convention) });
  if (wanted.has('onnx')) exports.push({ name: 'fused.onnx', bytes: serializeModelOnnx(model, { metadata, producerVersion: ENGINE_VERSION }) });
  return exports;
}
