/**
 * The result sections: accuracy of everything that was evaluated, the
 * training curves of a finetuned or distilled fused model, and the
 * fusion-weight sweep. Each renders nothing when its data is absent, and
 * accuracy fields this module does not know yet (the report keeps growing)
 * are still shown, under their own names.
 */
import type { FusionReport, ReportSweep, ReportTraining } from '../pipeline/report.ts';
import { type AccuracyBar, renderAccuracyBars, renderLineChart } from './charts.ts';
import { esc } from './escape.ts';
import { exact, isNum, pct } from './format.ts';

/** Accuracy of the fused model before each post-fusion step, in the order the steps run. */
const BEFORE_STEPS = [
  ['fusedBeforeBnReestimate', 'fused model, before BN re-estimation'],
  ['fusedBeforeRepair', 'fused model, before REPAIR'],
] as const;
const STEP_NAMES: Record<string, string> = { 'bn-reestimate': 'BN re-estimation', repair: 'REPAIR' };
const KNOWN_ACCURACY_FIELDS = new Set<string>(['models', 'fused', 'repaired', 'ensemble', 'depthAligned', 'depthAlignedInputs', 'samples', 'finetuned', ...BEFORE_STEPS.map(([k]) => k)]);

/**
 * Fields newer engines add to `accuracy` and `training` (finetuning's
 * reported numbers); read defensively so this page renders reports from
 * before and after them.
 */
interface LaterAccuracyFields {
  finetuned?: { fused?: unknown; models?: unknown; depthAligned?: unknown };
}
interface LaterTrainingFields {
  reported?: unknown;
  keptInitial?: unknown;
}

const numbers = (v: unknown): number[] => (Array.isArray(v) ? v.filter(isNum) : []);

export function accuracyBars(report: FusionReport): AccuracyBar[] {
  const acc = report.accuracy;
  if (!acc) return [];
  const bars: AccuracyBar[] = [];
  (acc.models ?? []).forEach((value, i) => bars.push({ label: `model ${i + 1}`, detail: report.inputs?.[i]?.label, value, kind: 'input' }));
  const merge = report.balance?.method === 'merge';
  (acc.depthAligned ?? []).forEach((value, k) => {
    const from = acc.depthAlignedInputs?.[k];
    bars.push({
      label: `model ${from ?? '?'}, depth-aligned`,
      detail: merge ? 'layers merged (Aₘ)' : 'identity layers inserted (B′)',
      value,
      kind: 'aligned',
    });
  });
  for (const [key, label] of BEFORE_STEPS) {
    const value = acc[key];
    if (isNum(value)) bars.push({ label, detail: 'as fused', value, kind: 'step' });
  }
  const steps = (report.fusion?.normalization ?? []).map((s) => STEP_NAMES[s] ?? s);
  const trained = trainedFusedAccuracy(report);
  // With REPAIR, `fused` is the model before it (shown above as a step) and `repaired` the written one.
  const repaired = (acc as { repaired?: unknown }).repaired;
  const fused = isNum(repaired) ? repaired : acc.fused;
  if (isNum(fused)) {
    bars.push({ label: trained ? 'fused model, before training' : 'fused model', detail: [report.fusion?.method, ...steps].filter(Boolean).join(' + '), value: fused, kind: trained ? 'step' : 'fused' });
  }
  for (const [key, value] of Object.entries(acc)) {
    if (KNOWN_ACCURACY_FIELDS.has(key) || !isNum(value) || value < 0 || value > 1) continue;
    bars.push({ label: humanize(key), value, kind: key.startsWith('fused') ? 'step' : 'aligned' });
  }
  if (trained) bars.push({ label: trained.label, detail: trained.detail, value: trained.value, kind: 'fused' });
  const finetuned = (acc as LaterAccuracyFields).finetuned;
  numbers(finetuned?.models).forEach((value, i) => bars.push({ label: `model ${i + 1}, finetuned`, detail: report.inputs?.[i]?.label, value, kind: 'input' }));
  numbers(finetuned?.depthAligned).forEach((value, k) =>
    bars.push({ label: `model ${acc.depthAlignedInputs?.[k] ?? '?'}, depth-aligned, finetuned`, value, kind: 'aligned' }),
  );
  if (isNum(acc.ensemble)) bars.push({ label: 'prediction ensemble', detail: 'weighted average of the inputs’ outputs', value: acc.ensemble, kind: 'ensemble' });
  return bars;
}

export function renderAccuracySection(report: FusionReport): string {
  const bars = accuracyBars(report);
  if (bars.length === 0) {
    return `<section id="accuracy" aria-labelledby="accuracy-h"><h2 id="accuracy-h">Accuracy</h2><p class="intro">No evaluation data was given (<code>--eval</code>), so no accuracies were measured.</p></section>`;
  }
  const samples = report.accuracy?.samples;
  return `<section id="accuracy" aria-labelledby="accuracy-h"><h2 id="accuracy-h">Accuracy</h2>
${renderAccuracyBars(bars, `Top-1 accuracy on ${isNum(samples) ? samples.toLocaleString('en-US') : 'the'} evaluation samples; differences in percentage points against the best input model.`)}</section>`;
}

/**
 * The eval accuracy of the fused model after finetuning or distillation: the
 * number the report states (`accuracy.finetuned.fused`, `training.reported`)
 * when it has one, else the kept epoch's (the best, or the last if untracked).
 */
export function trainedFusedAccuracy(report: FusionReport): { label: string; detail: string; value: number } | null {
  const training = report.training;
  if (!training) return null;
  const history = training.history ?? [];
  const later = training as LaterTrainingFields;
  const withEval = history.filter((e) => isNum(e.evalAccuracy));
  const kept = withEval.find((e) => e.epoch === training.bestEpoch) ?? withEval[withEval.length - 1];
  const stated = (report.accuracy as LaterAccuracyFields | null)?.finetuned?.fused ?? later.reported;
  const value = isNum(stated) ? stated : kept?.evalAccuracy;
  if (!isNum(value)) return null;
  const what = training.kind === 'distill' ? 'distillation' : 'finetuning';
  const detail = later.keptInitial === true ? 'no epoch improved on it; initial weights kept' : kept ? `epoch ${kept.epoch} of ${history.length} kept` : `${history.length} epochs`;
  return { label: `fused model, after ${what}`, detail, value };
}

export function renderTrainingSection(training: ReportTraining | undefined): string {
  const history = training?.history ?? [];
  if (!training || history.length === 0) return '';
  const what = training.kind === 'distill' ? 'Distillation' : 'Finetuning';
  const epochs = { label: 'epoch', format: (v: number) => exact(v), domain: [history[0].epoch, history[history.length - 1].epoch] as [number, number] };
  const best = isNum(training.bestEpoch) ? [{ x: training.bestEpoch, label: `best: epoch ${training.bestEpoch}` }] : [];
  const loss = renderLineChart({
    id: 'train-loss',
    title: `${what} loss per epoch`,
    desc: `Mean training loss over ${history.length} epochs: ${history.map((e) => e.loss.toFixed(4)).join(', ')}.`,
    x: epochs,
    y: { label: 'loss', format: (v) => exact(Number(v.toPrecision(3))) },
    series: [{ name: 'training loss', points: history.map((e) => [e.epoch, e.loss] as const), cls: 's1' }],
    vlines: best,
  });
  const hasEval = history.some((e) => isNum(e.evalAccuracy));
  const accuracy = renderLineChart({
    id: 'train-acc',
    title: `${what} accuracy per epoch`,
    desc: `Training${hasEval ? ' and evaluation' : ''} accuracy per epoch.`,
    x: epochs,
    y: { label: 'accuracy', format: (v) => pct(v, 1) },
    series: [
      { name: 'train accuracy', points: history.map((e) => [e.epoch, e.trainAccuracy] as const), cls: 's1', dashed: true },
      ...(hasEval ? [{ name: 'eval accuracy', points: history.filter((e) => isNum(e.evalAccuracy)).map((e) => [e.epoch, e.evalAccuracy!] as const), cls: 's2' }] : []),
    ],
    vlines: best,
  });
  const lrs = [...new Set(history.map((e) => e.lr))];
  return `<section id="training" aria-labelledby="training-h"><h2 id="training-h">${what} of the fused model</h2>
<p class="intro">${history.length} epochs; learning rate ${lrs.map((l) => esc(exact(l))).join(' → ')}${isNum(training.bestEpoch) ? `; the weights of epoch ${training.bestEpoch} were kept` : ''}.</p>
<div class="charts">${loss}${accuracy}</div></section>`;
}

export function renderSweepSection(report: FusionReport): string {
  const sweep: ReportSweep | undefined = report.sweep;
  if (!sweep || !sweep.weights?.length) return '';
  const fusedPoints = sweep.weights.map((w, i) => [w, sweep.accuracy?.[i]] as const).filter((p): p is readonly [number, number] => isNum(p[1]));
  const ensemble = sweep.ensembleAccuracy;
  const repaired = Array.isArray(sweep.repairedAccuracy) ? sweep.repairedAccuracy : undefined;
  const repairedPoints = repaired ? sweep.weights.map((w, i) => [w, repaired[i]] as const).filter((p): p is readonly [number, number] => isNum(p[1])) : [];
  const ensemblePoints = ensemble ? sweep.weights.map((w, i) => [w, ensemble[i]] as const).filter((p): p is readonly [number, number] => isNum(p[1])) : [];
  const models = report.accuracy?.models ?? [];
  const labels = report.inputs ?? [];
  const hlines = models.slice(0, 2).map((a, i) => ({ y: a, label: `model ${i + 1} alone (${pct(a)})`, cls: i === 0 ? 's1' : 's4' }));
  const mainWeight = report.fusion?.weights?.[0];
  const best = fusedPoints.reduce<readonly [number, number] | null>((b, p) => (b === null || p[1] > b[1] ? p : b), null);
  const chart = renderLineChart({
    id: 'sweep',
    title: 'Accuracy against the fusion weight',
    desc: `Fused and ensemble accuracy for w from ${exact(sweep.weights[0])} to ${exact(sweep.weights[sweep.weights.length - 1])}, where model 1 has weight w and model 2 has weight 1 − w.`,
    x: { label: 'w, weight of model 1 (model 2 gets 1 − w)', format: (v) => exact(Number(v.toFixed(3))), domain: [Math.min(0, ...sweep.weights), Math.max(1, ...sweep.weights)] },
    y: { label: 'accuracy', format: (v) => pct(v, 0) },
    series: [
      // With REPAIR the repaired curve is the fused model's (solid) and the one before it dashed, in the same colour.
      ...(repairedPoints.length
        ? [
            { name: 'fused model, REPAIR', points: repairedPoints, cls: 's2' },
            { name: 'fused model, before REPAIR', points: fusedPoints, cls: 's2', dashed: true },
          ]
        : [{ name: 'fused model', points: fusedPoints, cls: 's2' }]),
      ...(ensemblePoints.length ? [{ name: 'prediction ensemble', points: ensemblePoints, cls: 's3', dashed: true }] : []),
    ],
    hlines,
    vlines: isNum(mainWeight) ? [{ x: mainWeight, label: `this run (w = ${exact(Number(mainWeight.toFixed(3)))})` }] : [],
  });
  const rows = sweep.weights
    .map((w, i) => `<tr><td class="num">${esc(exact(w))}</td><td class="num">${esc(exact(Number((1 - w).toFixed(12))))}</td><td class="num">${pct(sweep.accuracy?.[i])}</td>${repaired ? `<td class="num">${pct(repaired[i])}</td>` : ''}${ensemble ? `<td class="num">${pct(ensemble[i])}</td>` : ''}</tr>`)
    .join('');
  return `<section id="sweep" aria-labelledby="sweep-h"><h2 id="sweep-h">Fusion-weight sweep</h2>
<p class="intro">The pair fused again at each weight w: model 1 (${esc(labels[0]?.label ?? 'model 1')}) gets w and model 2 (${esc(labels[1]?.label ?? 'model 2')}) gets 1 − w, as in the paper's skill-transfer experiment.${best ? ` The fused model is best at w = ${esc(exact(best[0]))} (${pct(best[1])}).` : ''}</p>
<div class="sweep">${chart}<div class="table-scroll"><table class="compact"><caption>Accuracy per weight</caption><thead><tr><th scope="col" class="num">w (model 1)</th><th scope="col" class="num">1 − w (model 2)</th><th scope="col" class="num">fused</th>${repaired ? '<th scope="col" class="num">REPAIR</th>' : ''}${ensemble ? '<th scope="col" class="num">ensemble</th>' : ''}</tr></thead><tbody>${rows}</tbody></table></div></div></section>`;
}

/** `fusedBnReestimated` → "fused bn reestimated". */
function humanize(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
}
