/**
 * Small chart primitives for the report: a bar list of accuracies (an HTML
 * table, so it reads naturally to screen readers and reflows on phones) and
 * an SVG line chart for training curves and the fusion-weight sweep.
 */
import { esc } from './escape.ts';
import { exact, isNum, pct, pp } from './format.ts';

export interface AccuracyBar {
  label: string;
  detail?: string;
  value: number;
  /** Colour role: inputs, depth-aligned models, the fused model before a post-fusion step, the fused result, the ensemble baseline. */
  kind: 'input' | 'aligned' | 'step' | 'fused' | 'ensemble';
}

/** Bars on a 0–100% axis (never truncated), with the difference to the best input. */
export function renderAccuracyBars(bars: readonly AccuracyBar[], caption: string): string {
  const inputs = bars.filter((b) => b.kind === 'input').map((b) => b.value);
  const best = inputs.length ? Math.max(...inputs) : null;
  const rows = bars
    .map((b) => {
      const delta = best !== null && b.kind !== 'input' ? pp(b.value - best) : '';
      return `<tr class="bar-${b.kind}"><th scope="row">${esc(b.label)}${b.detail ? `<span class="detail">${esc(b.detail)}</span>` : ''}</th>
<td class="bar-cell"><span class="bar-track"><span class="bar" style="width:${(Math.max(0, Math.min(1, b.value)) * 100).toFixed(2)}%"></span></span></td>
<td class="num">${pct(b.value)}</td><td class="num delta">${delta}</td></tr>`;
    })
    .join('\n');
  return `<table class="bars"><caption>${esc(caption)}</caption>
<thead><tr><th scope="col">model</th><th scope="col"><span class="sr-only">bar</span></th><th scope="col" class="num">accuracy</th><th scope="col" class="num">vs best input</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  /** CSS class that colours the line (s1…s4). */
  cls: string;
  dashed?: boolean;
}

export interface LineChartSpec {
  id: string;
  title: string;
  desc: string;
  x: { label: string; domain?: [number, number]; format: (v: number) => string };
  y: { label: string; domain?: [number, number]; format: (v: number) => string };
  series: Series[];
  /** Horizontal reference lines (e.g. the input models' accuracies). */
  hlines?: { y: number; label: string; cls: string }[];
  /** Vertical markers (e.g. the best epoch, the weight of the main run). */
  vlines?: { x: number; label: string }[];
}

const W = 560;
const H = 300;
const PAD = { left: 56, right: 16, top: 28, bottom: 48 };

export function renderLineChart(spec: LineChartSpec): string {
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [...spec.series.flatMap((s) => s.points.map((p) => p[1])), ...(spec.hlines ?? []).map((h) => h.y)].filter(isNum);
  if (xs.length === 0 || ys.length === 0) return '';
  const [x0, x1] = spec.x.domain ?? widen(Math.min(...xs), Math.max(...xs));
  const [y0, y1] = spec.y.domain ?? nice(Math.min(...ys), Math.max(...ys));
  const px = (v: number) => PAD.left + ((v - x0) / (x1 - x0 || 1)) * (W - PAD.left - PAD.right);
  const py = (v: number) => H - PAD.bottom - ((v - y0) / (y1 - y0 || 1)) * (H - PAD.top - PAD.bottom);

  const yTicks = ticks(y0, y1, 5);
  const xTicks = xs.length <= 12 ? [...new Set(xs)].sort((a, b) => a - b) : ticks(x0, x1, 6);
  const grid = yTicks
    .map((v) => `<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${py(v)}" y2="${py(v)}"/><text class="tick y" x="${PAD.left - 8}" y="${py(v)}">${esc(spec.y.format(v))}</text>`)
    .join('');
  const xAxis = xTicks.map((v) => `<text class="tick x" x="${px(v)}" y="${H - PAD.bottom + 18}">${esc(spec.x.format(v))}</text>`).join('');
  const hlines = (spec.hlines ?? [])
    .map((h) => `<g class="ref ${h.cls}"><line x1="${PAD.left}" x2="${W - PAD.right}" y1="${py(h.y)}" y2="${py(h.y)}"><title>${esc(`${h.label}: ${spec.y.format(h.y)}`)}</title></line></g>`)
    .join('');
  const vlines = (spec.vlines ?? [])
    .map((v) => `<g class="marker"><line x1="${px(v.x)}" x2="${px(v.x)}" y1="${PAD.top - 4}" y2="${H - PAD.bottom}"/><text x="${px(v.x)}" y="${PAD.top - 10}">${esc(v.label)}</text></g>`)
    .join('');
  const lines = spec.series
    .map((s) => {
      const pts = s.points.filter((p) => isNum(p[0]) && isNum(p[1]));
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join('');
      const dots = pts
        .map((p) => `<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3.5"><title>${esc(`${s.name}: ${spec.y.label} ${spec.y.format(p[1])} at ${spec.x.label} ${exact(p[0])}`)}</title></circle>`)
        .join('');
      return `<g class="series ${s.cls}${s.dashed ? ' dashed' : ''}"><path d="${d}"/>${dots}</g>`;
    })
    .join('\n');
  const legend = [
    ...spec.series.map((s) => `<li class="${s.cls}${s.dashed ? ' dashed' : ''}"><span class="swatch"></span>${esc(s.name)}</li>`),
    ...(spec.hlines ?? []).map((h) => `<li class="ref ${h.cls}"><span class="swatch"></span>${esc(h.label)}</li>`),
  ].join('');

  return `<figure class="chart"><svg viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${spec.id}-title ${spec.id}-desc">
<title id="${spec.id}-title">${esc(spec.title)}</title><desc id="${spec.id}-desc">${esc(spec.desc)}</desc>
${grid}${xAxis}
<text class="axis-name" x="${(PAD.left + W - PAD.right) / 2}" y="${H - 8}">${esc(spec.x.label)}</text>
<text class="axis-name" transform="translate(14 ${(PAD.top + H - PAD.bottom) / 2}) rotate(-90)">${esc(spec.y.label)}</text>
${hlines}${vlines}${lines}
</svg><figcaption><ul class="chart-legend">${legend}</ul></figcaption></figure>`;
}

/** A padded domain around [lo, hi] on round numbers, so lines don't touch the frame. */
function nice(lo: number, hi: number): [number, number] {
  if (lo === hi) return [lo - 0.5 * (Math.abs(lo) || 1), hi + 0.5 * (Math.abs(hi) || 1)];
  const step = tickStep(lo, hi, 5);
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

function widen(lo: number, hi: number): [number, number] {
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

function tickStep(lo: number, hi: number, count: number): number {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm >= 5 ? 10 : norm >= 2 ? 5 : 2) * mag;
}

function ticks(lo: number, hi: number, count: number): number[] {
  const step = tickStep(lo, hi, count);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}
