/**
 * The fused model as a file: what `clafusion fuse --out` writes and what the
 * runner uploads, byte for byte the same. The model takes the naming
 * convention of the input it was built on (so `load_state_dict` works on it
 * as on that input) and the engine version in the safetensors metadata; the
 * report gets the file's sha256.
 */
import { createHash } from 'node:crypto';
import type { Model } from '@clafusion/model-format/arch';
import type { NamingConvention } from '@clafusion/model-format/naming';
import { serializeModel } from '../io/model-file.ts';
import type { FusionReport } from './report.ts';
import type { FusionOutcome } from './run-fusion.ts';
import { ENGINE_VERSION } from './version.ts';

/** The metadata every model file the fusion writes carries (safetensors `__metadata__`, ONNX metadata_props). */
export const FUSION_FILE_METADATA: Readonly<Record<string, string>> = { 'clafusion.version': ENGINE_VERSION };

/** A model written by the fusion (fused, unfinetuned, depth-aligned) in `convention`, with the engine version. */
export function fusionModelBytes(model: Model, convention: NamingConvention): Uint8Array {
  return serializeModel(model, convention, FUSION_FILE_METADATA);
}

/** The report with the sha256 of the fused file as written (whatever its format). */
export function reportWithFusedFile(report: FusionReport, bytes: Uint8Array): FusionReport {
  return { ...report, fused: { ...report.fused, sha256: createHash('sha256').update(bytes).digest('hex') } };
}

/** The fused model's bytes, in the naming of the input it takes after (`conventions[i]` is input i's), and the report with their sha256. */
export function fusedFile(outcome: FusionOutcome, conventions: readonly NamingConvention[]): { bytes: Uint8Array; report: FusionReport } {
  const bytes = fusionModelBytes(outcome.fused, conventions[outcome.namingFrom]);
  return { bytes, report: reportWithFusedFile(outcome.report, bytes) };
}
