/** The short human summary printed at the end of `fuse`. */
import type { FusionReport, ReportTraining } from '../pipeline/report.ts';
import { describeArch } from '@clafusion/model-format/arch';

export { describeArch };

function pct(v: number): string {
  return `${(v * 100).toFixed(2)}%`;
}

export function formatSummary(report: FusionReport, outPath: string, reportPath?: string): string {
  const lines: string[] = [];
  const rec = report.recording;
  const recorded = rec ? `; activations recorded on ${rec.detail}${rec.fallback ? ` (onnxruntime-node unavailable: ${rec.fallback})` : ''}` : '';
  lines.push(`Fused ${report.inputs.length} models on ${report.backend}${recorded}`);
  for (const input of report.inputs) {
    lines.push(`  model ${input.index} (${input.role}): ${input.label}  ${describeArch(input.arch)}`);
  }
  for (const g of report.alignment.groups) {
    lines.push(`  mapping ${g.name} (model ${g.colsModel} → model ${g.rowsModel}): [${g.mapping.join(', ')}]  cost ${g.cost.toPrecision(6)}`);
  }
  for (const d of report.balance.depthAligned) {
    lines.push(`  ${report.balance.method === 'add' ? 'depth-aligned' : 'merged'} model ${d.input}: ${describeArch(d.arch)}`);
  }
  lines.push(`  fused (${report.fusion.method}): ${describeArch(report.fused.arch)} → ${outPath}`);
  const acc = report.accuracy;
  if (acc) {
    const parts = acc.models.map((a, i) => `model ${i + 1} ${pct(a)}`);
    parts.push(`ensemble ${pct(acc.ensemble)}`);
    acc.depthAligned.forEach((a, i) => parts.push(`depth-aligned ${acc.depthAlignedInputs[i]} ${pct(a)}`));
    if (acc.fusedBeforeBnReestimate !== undefined) parts.push(`fused before BN re-estimation ${pct(acc.fusedBeforeBnReestimate)}`);
    parts.push(`fused ${pct(acc.fused)}`);
    if (acc.repaired !== undefined) parts.push(`repaired ${pct(acc.repaired)}`);
    lines.push(`  accuracy on ${acc.samples} samples: ${parts.join('  ')}`);
    const hint = repairHint(report);
    if (hint) lines.push(hint);
  }
  if (report.training) lines.push(trainingLine(report.training));
  if (report.sweep) {
    const points = report.sweep.weights.map((w, i) => `${w} ${pct(report.sweep!.accuracy[i])}`);
    lines.push(`  fused accuracy by weight w of model 1 (model 2: 1−w): ${points.join('  ')}`);
  }
  const t = report.timings;
  lines.push(
    `  timings: ${Object.entries(t)
      .map(([k, v]) => `${k} ${v.toFixed(3)}s`)
      .join('  ')}`,
  );
  if (reportPath) lines.push(`  report: ${reportPath}`);
  return `${lines.join('\n')}\n`;
}

/** A fused CNN this far below the prediction ensemble, unrepaired and untrained, gets a hint line. */
export const REPAIR_HINT_GAP = 0.05;

/**
 * Fused CNNs lose much of their parents' accuracy before finetuning (variance
 * collapse), and `--repair on` wins most of it back (README, REPAIR), but it
 * is off by default so that the default output stays the official code's
 * fusion. A user who only sees the low number should learn that it exists.
 */
function repairHint(report: FusionReport): string | null {
  const acc = report.accuracy;
  const family = report.fused.arch.family;
  if (!acc || family === 'mlp' || acc.repaired !== undefined || report.training) return null;
  const gap = acc.ensemble - acc.fused;
  if (gap < REPAIR_HINT_GAP) return null;
  return (
    `  hint: the fused ${family === 'vgg' ? 'VGG' : 'ResNet'} is ${(gap * 100).toFixed(1)} points below the ensemble before any training; ` +
    '--repair on renormalises its channels on the calibration data (README: REPAIR), --finetune trains it'
  );
}

/** `finetuned fused model: N epochs (preset P), eval accuracy before X → Y (epoch K kept)`. */
function trainingLine(training: ReportTraining): string {
  const epochs = training.history.length;
  const preset = training.settings ? ` (preset ${training.settings.preset})` : '';
  const kept = training.keptInitial ? 'initial weights kept' : training.bestEpoch === undefined ? '' : `epoch ${training.bestEpoch} kept`;
  const acc = training.before !== undefined && training.reported !== undefined ? `, eval accuracy ${pct(training.before)} → ${pct(training.reported)}` : '';
  return `  ${training.kind === 'distill' ? 'distilled' : 'finetuned'} fused model: ${epochs} epoch${epochs === 1 ? '' : 's'}${preset}${acc}${kept ? ` (${kept})` : ''}`;
}
