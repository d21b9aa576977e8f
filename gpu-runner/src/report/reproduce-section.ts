/**
 * The sections that say exactly what ran: per-layer transport summaries, and
 * everything needed to reproduce the run — the inputs' hashes, engine
 * version, backend, seed, every resolved option and the stage timings.
 */
import { describeArch } from '@clafusion/model-format/arch';
import type { FusionReport } from '../pipeline/report.ts';
import { esc } from './escape.ts';
import { exact, integer, isNum, seconds } from './format.ts';

export function renderLayersSection(report: FusionReport): string {
  const layers = report.fusion?.layers ?? [];
  if (layers.length === 0) return '';
  const rows = layers
    .map(
      (l) =>
        `<tr><th scope="row" class="mono">${esc(l.name)}</th><td class="num">${esc(l.model)}</td><td class="num">${l.plan ? `${l.plan[0]} × ${l.plan[1]}` : '—'}</td><td class="num">${isNum(l.cost) ? esc(exact(Number(l.cost.toPrecision(6)))) : '—'}</td></tr>`,
    )
    .join('');
  const table = `<div class="table-scroll"><table><caption>Transport plan per fused layer (rows: neurons of the model aligned, columns: of the model aligned onto) and its transport cost.</caption>
<thead><tr><th scope="col">layer</th><th scope="col" class="num">aligned model</th><th scope="col" class="num">plan</th><th scope="col" class="num">transport cost</th></tr></thead><tbody>${rows}</tbody></table></div>`;
  return `<section id="layers" aria-labelledby="layers-h"><h2 id="layers-h">Fused layers</h2>${layers.length > 16 ? `<details><summary>${layers.length} layers</summary>${table}</details>` : table}</section>`;
}

export function renderReproduceSection(report: FusionReport): string {
  const inputs = (report.inputs ?? [])
    .map(
      (input) =>
        `<tr><td class="num">${esc(input.index)}</td><th scope="row">${esc(input.label)}</th><td>${esc(input.role)}</td><td class="mono">${esc(safeArch(input.arch))}</td><td class="hash">${esc(input.sha256 ?? '—')}</td></tr>`,
    )
    .join('');
  const fusion = report.fusion;
  const settings: [string, string][] = [
    ['engine', `${report.engine?.name ?? 'clafusion'} ${report.engine?.version ?? '?'}`],
    ['backend', report.backend],
    // The recording runtime changes recorded values in their last bits, so it belongs to what reproduces a run.
    ...(report.recording ? ([['activations recorded on', report.recording.detail]] as [string, string][]) : []),
    ['seed', String(report.seed)],
    ['calibration', report.calibration ? `${report.calibration.samples} of ${report.calibration.available} samples` : '—'],
    ['fusion', `${fusion?.method ?? '?'}, weights [${(fusion?.weights ?? []).map((w) => exact(w)).join(', ')}]`],
    ['roles', fusion?.anchor ? `anchor: model ${fusion.anchor}` : fusion?.n0 ? `N0 = model ${fusion.n0} aligned onto N1 = model ${fusion.n1}` : '—'],
    ['fused model', `${safeArch(report.fused?.arch)}, ${isNum(report.fused?.parameters) ? integer(report.fused.parameters) : '?'} parameters`],
  ];
  const kv = settings.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('') + `<dt>fused sha256</dt><dd class="hash">${esc(report.fused?.sha256 ?? '—')}</dd>`;

  // Stages in the order the report lists them (newer stages included), the total last.
  const timings = Object.entries(report.timings ?? {})
    .filter(([, v]) => isNum(v))
    .sort(([a], [b]) => Number(a === 'total') - Number(b === 'total'));
  const total = report.timings?.total;
  const longest = Math.max(1e-9, ...timings.filter(([k]) => k !== 'total').map(([, v]) => v));
  const timingRows = timings
    .map(([stage, v]) => {
      const isTotal = stage === 'total';
      const bar = isTotal ? '' : `<span class="share" style="width:${((v / longest) * 100).toFixed(1)}%"></span>`;
      const share = !isTotal && isNum(total) && total > 0 ? `${((v / total) * 100).toFixed(0)}%` : '';
      return `<tr${isTotal ? ' class="total"' : ''}><th scope="row">${isTotal ? '<strong>total</strong>' : esc(stage)}</th><td class="num">${isTotal ? `<strong>${seconds(v)}</strong>` : seconds(v)}</td><td class="num">${share}</td><td style="width:40%">${bar}</td></tr>`;
    })
    .join('');
  const options = flatten(report.options ?? {}, '')
    .map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`)
    .join('');

  return `<section id="reproduce" aria-labelledby="reproduce-h"><h2 id="reproduce-h">Reproduce this run</h2>
<p class="intro">The same inputs (by sha256), options, seed, engine version and recording runtime give a byte-identical fused model.</p>
<h3>Inputs</h3><div class="table-scroll"><table><thead><tr><th scope="col" class="num">#</th><th scope="col">file</th><th scope="col">role</th><th scope="col">architecture</th><th scope="col">sha256</th></tr></thead><tbody>${inputs}</tbody></table></div>
<div class="cols-2"><div><h3>Run</h3><dl class="kv">${kv}</dl></div>
<div><h3>Stage timings</h3><table><thead><tr><th scope="col">stage</th><th scope="col" class="num">time</th><th scope="col" class="num">share</th><th scope="col"><span class="sr-only">bar</span></th></tr></thead><tbody>${timingRows}</tbody></table></div></div>
<h3>Resolved options</h3><dl class="options">${options}</dl>
<details><summary>The full report.json</summary><pre>${esc(JSON.stringify(report, null, 2))}</pre></details></section>`;
}

/** Nested options as dotted paths: groundMetric.metric → "euclidean". */
function flatten(value: unknown, prefix: string): [string, string][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)]];
}

/** describeArch, but a report from a newer engine with an unknown family still renders. */
function safeArch(arch: Parameters<typeof describeArch>[0] | undefined): string {
  if (!arch) return '—';
  try {
    return describeArch(arch) ?? JSON.stringify(arch);
  } catch {
    return JSON.stringify(arch);
  }
}
