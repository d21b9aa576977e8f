/**
 * What `finetune` and `distill` write: the kept model (safetensors, with the
 * settings in its metadata, or a PyTorch state dict; see model-output.ts) and nothing run-specific, so the same inputs and
 * seed give byte-identical files), an optional JSON report with the
 * per-epoch metrics, and a short summary on stdout.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { Arch } from '@clafusion/model-format/arch';
import type { NamingConvention } from '@clafusion/model-format/naming';
import { type TrainingOutcome, trainingReport } from '../pipeline/finetune.ts';
import type { ReportTraining } from '../pipeline/report.ts';
import { ENGINE_VERSION } from '../pipeline/version.ts';
import type { CommandIo } from './io.ts';
import { type ModelOutputChoice, writeModelOutputs } from './model-output.ts';
import { describeArch } from './summary.ts';

export interface TrainingModelRef {
  label: string;
  sha256: string | null;
  arch: Arch;
}

/** `--report` of `finetune` and `distill`. */
export interface TrainingRunReport {
  schema: 'clafusion.training/v1';
  engine: { name: 'clafusion'; version: string };
  backend: string;
  /** The model trained: its file, or how it was initialised. */
  student: TrainingModelRef & { init: 'file' | 'random' | 'fused' | 'depth-aligned' };
  teachers?: TrainingModelRef[];
  data: { train: string; samples: number; eval: string | null; evalSamples: number | null };
  training: ReportTraining;
  output: { path: string; sha256: string };
  seconds: number;
}

export interface TrainingOutputs {
  out: string;
  /** --format and --onnx (model-output.ts). */
  modelOutput?: ModelOutputChoice;
  reportPath?: string;
  convention: NamingConvention;
  report: Omit<TrainingRunReport, 'schema' | 'engine' | 'training' | 'output'>;
}

export async function writeTrainingOutputs(outcome: TrainingOutcome, outputs: TrainingOutputs, io: CommandIo): Promise<TrainingRunReport> {
  const bytes = await writeModelOutputs(outputs.out, outputs.modelOutput ?? {}, outcome.model, outputs.convention, {
    'clafusion.version': ENGINE_VERSION,
    [`clafusion.${outcome.kind}`]: JSON.stringify({ ...outcome.settings, keptEpoch: outcome.keptEpoch }),
  });
  const report: TrainingRunReport = {
    schema: 'clafusion.training/v1',
    engine: { name: 'clafusion', version: ENGINE_VERSION },
    ...outputs.report,
    training: trainingReport(outcome),
    output: { path: outputs.out, sha256: createHash('sha256').update(bytes).digest('hex') },
  };
  if (outputs.reportPath) await writeFile(outputs.reportPath, `${JSON.stringify(report, null, 2)}\n`);
  io.stdout.write(summary(outcome, report, outputs.reportPath));
  return report;
}

function pct(v: number): string {
  return `${(v * 100).toFixed(2)}%`;
}

function summary(outcome: TrainingOutcome, report: TrainingRunReport, reportPath?: string): string {
  const what = outcome.kind === 'distill' ? 'Distilled' : 'Finetuned';
  const s = outcome.settings;
  const lines = [
    `${what} ${describeArch(report.student.arch)} (${report.student.init === 'file' ? report.student.label : `${report.student.init} init`}) ` +
      `for ${s.epochs} epoch${s.epochs === 1 ? '' : 's'} on ${report.data.samples} samples in ${report.seconds.toFixed(1)}s on ${report.backend}`,
    `  preset ${s.preset}: lr ${s.lr}, momentum ${s.momentum}, weight decay ${s.weightDecay}, batch ${s.batchSize}, augment ${s.augment ? 'on' : 'off'}` +
      (s.alpha === undefined ? '' : `, alpha ${s.alpha}, temperature ${s.temperature}`),
  ];
  if (outcome.before !== undefined && outcome.reported !== undefined) {
    const kept = outcome.keptEpoch === 0 ? 'kept the initial weights' : `kept epoch ${outcome.keptEpoch}`;
    lines.push(`  eval accuracy: before ${pct(outcome.before)}  reported ${pct(outcome.reported)} (${kept})`);
  }
  lines.push(`  → ${report.output.path}`);
  if (reportPath) lines.push(`  report: ${reportPath}`);
  return `${lines.join('\n')}\n`;
}
