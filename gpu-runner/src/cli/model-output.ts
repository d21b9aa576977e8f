/**
 * How the commands that write a model (`fuse`, `train`, `finetune`,
 * `distill`) choose its format, and the optional ONNX export beside it:
 *
 *   --out M.safetensors            safetensors (the default for any other name)
 *   --out M.pt | M.pth             a PyTorch state dict (torch.load-able zip)
 *   --format safetensors|pt        the format whatever the name
 *   --onnx M.onnx                  also the network as an ONNX model
 *
 * The flags are checked before any work, so a typo fails in the first second.
 */
import type { Model } from '@clafusion/model-format/arch';
import { atomicWriteFile } from '@clafusion/model-format/atomic-write';
import { serializeModel } from '../io/model-file.ts';
import type { NamingConvention } from '@clafusion/model-format/naming';
import { serializeModelOnnx } from '../io/onnx-writer.ts';
import { serializeModelPytorch } from '../io/pytorch-writer.ts';
import { ENGINE_VERSION } from '../pipeline/version.ts';
import { type Args, type FlagSpecs, UsageError } from './args.ts';

export const MODEL_FORMATS = ['safetensors', 'pt'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

export const MODEL_OUTPUT_FLAGS: FlagSpecs = {
  format: {
    kind: 'value',
    placeholder: 'safetensors|pt',
    description: 'format of the model file(s) written (default: pt for a .pt or .pth name, safetensors otherwise)',
  },
  onnx: { kind: 'value', placeholder: 'FILE', description: 'also export the model as ONNX (opset 13, input "input" NCHW, output "logits", dynamic batch)' },
};

export interface ModelOutputChoice {
  /** --format, when given; otherwise each path's extension decides. */
  format?: ModelFormat;
  /** --onnx. */
  onnx?: string;
}

/** Reads and checks --format and --onnx, and that `outPath` is not an ONNX name. */
export function modelOutputFromArgs(args: Args, outPath: string): ModelOutputChoice {
  const format = args.has('format') ? args.choice('format', MODEL_FORMATS, 'safetensors') : undefined;
  if (/\.onnx$/i.test(outPath)) {
    throw new UsageError(`--out ${outPath}: --out writes a safetensors or PyTorch model file; for ONNX use --onnx ${outPath} (beside --out)`);
  }
  const onnx = args.string('onnx');
  if (onnx !== undefined && onnx === outPath) throw new UsageError('--onnx and --out name the same file');
  return { ...(format ? { format } : {}), ...(onnx !== undefined ? { onnx } : {}) };
}

/** The format a model file at `path` is written in. */
export function modelFormatFor(path: string, choice: ModelOutputChoice = {}): ModelFormat {
  return choice.format ?? (/\.pth?$/i.test(path) ? 'pt' : 'safetensors');
}

/**
 * A model file's bytes. Safetensors keeps `metadata` (and the architecture)
 * in its header; a PyTorch state dict has no place for them.
 */
export function serializeModelAs(format: ModelFormat, model: Model, convention: NamingConvention, metadata: Record<string, string>): Uint8Array {
  return format === 'pt' ? serializeModelPytorch(model, convention) : serializeModel(model, convention, metadata);
}

/**
 * Writes the model to `path` in its format, and to the --onnx file when one
 * was asked for; returns the bytes written to `path` (reports hash them).
 */
export async function writeModelOutputs(
  path: string,
  choice: ModelOutputChoice,
  model: Model,
  convention: NamingConvention,
  metadata: Record<string, string>,
): Promise<Uint8Array> {
  const bytes = serializeModelAs(modelFormatFor(path, choice), model, convention, metadata);
  await atomicWriteFile(path, bytes);
  if (choice.onnx !== undefined) {
    await atomicWriteFile(choice.onnx, serializeModelOnnx(model, { metadata, producerVersion: ENGINE_VERSION }));
  }
  return bytes;
}
