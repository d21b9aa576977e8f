/**
 * The layer cost matrix of one alignment group as an SVG heatmap (the
 * paper's Figure 2b): rows are the deeper model's layers, columns the
 * shallower model's, and the chosen mapping is drawn on it as outlined cells
 * joined by a path. Every cell carries its coordinates and value as data
 * attributes and a <title>, so it is inspectable with and without a mouse.
 */
import type { ReportAlignmentGroup } from '../pipeline/report.ts';
import { esc } from './escape.ts';
import { compact, exact } from './format.ts';
import { heatColor } from './color.ts';

export interface HeatmapAxes {
  /** e.g. "model 1 · deeper"; the rows' and columns' owners. */
  rows: string;
  cols: string;
}

const LABEL_CHAR = 7.2;

export function renderHeatmap(group: ReportAlignmentGroup, id: string, axes: HeatmapAxes): string {
  const matrix = group.costMatrix ?? [];
  const m = matrix.length;
  const n = m > 0 ? matrix[0].length : 0;
  if (m === 0 || n === 0) return '<p class="muted">The cost matrix is empty.</p>';
  const rowLabels = labels(group.rows, m);
  const colLabels = labels(group.cols, n);
  const values = matrix.flat().filter(Number.isFinite);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const t = (v: number) => (hi > lo && Number.isFinite(v) ? (v - lo) / (hi - lo) : 0);

  // Cells shrink for big matrices but stay large enough to point at.
  const s = Math.max(24, Math.min(58, Math.round(440 / Math.max(m, n))));
  const left = 34 + Math.max(...rowLabels.map((l) => l.length)) * LABEL_CHAR;
  const top = 52;
  const width = left + n * s + 8;
  const height = top + m * s + 8;
  const mapping = group.mapping ?? [];
  const mapped = new Set(mapping.map((row, col) => `${row - 1},${col}`));
  const showValues = s >= 34;

  const cells: string[] = [];
  const texts: string[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const v = matrix[i][j];
      const isMapped = mapped.has(`${i},${j}`);
      const tv = t(v);
      const tip = `${rowLabels[i]} (${axes.rows}) × ${colLabels[j]} (${axes.cols}): cost ${exact(v)}${isMapped ? ' — chosen by the alignment' : ''}`;
      cells.push(
        `<rect class="cell" x="${left + j * s}" y="${top + i * s}" width="${s}" height="${s}" fill="${heatColor(tv)}" style="--t:${tv.toFixed(4)}"` +
          ` data-row="${i + 1}" data-col="${j + 1}" data-value="${esc(exact(v))}"${isMapped ? ' data-mapped="true"' : ''}><title>${esc(tip)}</title></rect>`,
      );
      if (showValues) {
        texts.push(
          `<text class="cell-value${tv > 0.55 ? ' on-dark' : ''}${isMapped ? ' on-map' : ''}" x="${left + j * s + s / 2}" y="${top + i * s + s / 2}">${esc(compact(v))}</text>`,
        );
      }
    }
  }

  const centres = mapping.map((row, col) => [left + col * s + s / 2, top + (row - 1) * s + s / 2] as const);
  // Links between consecutive chosen cells, from outline to outline, so they never cross the values.
  const half = s / 2 - 2;
  const path = centres
    .slice(1)
    .map(([x2, y2], k) => {
      const [x1, y1] = centres[k];
      const dx = x2 - x1;
      const dy = y2 - y1;
      const edge = Math.min(dx ? half / Math.abs(dx) : Infinity, dy ? half / Math.abs(dy) : Infinity);
      if (edge >= 0.5) return '';
      const px = (f: number) => (x1 + dx * f).toFixed(1);
      const py = (f: number) => (y1 + dy * f).toFixed(1);
      return `<line class="map-path" x1="${px(edge)}" y1="${py(edge)}" x2="${px(1 - edge)}" y2="${py(1 - edge)}"/>`;
    })
    .join('');
  const outlines = mapping
    .map((row, col) => `<rect class="map-cell" x="${left + col * s + 2}" y="${top + (row - 1) * s + 2}" width="${s - 4}" height="${s - 4}" rx="3"/>`)
    .join('');

  const colText = colLabels
    .map((l, j) => `<text class="axis-label col" data-label-col="${j + 1}" x="${left + j * s + s / 2}" y="${top - 8}">${esc(l)}</text>`)
    .join('');
  const rowText = rowLabels
    .map((l, i) => `<text class="axis-label row" data-label-row="${i + 1}" x="${left - 8}" y="${top + i * s + s / 2}">${esc(l)}</text>`)
    .join('');
  const titleId = `${id}-title`;
  const descId = `${id}-desc`;
  const desc =
    `${m} × ${n} layer cost matrix; rows are ${axes.rows}'s layers, columns ${axes.cols}'s. ` +
    `The chosen mapping [${mapping.join(', ')}] (total cost ${exact(group.cost)}) is outlined and joined by a path.`;

  return `<svg class="heatmap" id="${esc(id)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${titleId} ${descId}">
<title id="${titleId}">Layer cost matrix: ${esc(group.name)}</title><desc id="${descId}">${esc(desc)}</desc>
<text class="axis-title" x="${left + (n * s) / 2}" y="14">${esc(axes.cols)} →</text>
<text class="axis-title" transform="translate(12 ${top + (m * s) / 2}) rotate(-90)">${esc(axes.rows)} →</text>
<g>${colText}${rowText}</g>
<g class="cells">${cells.join('\n')}</g>
<g class="mapping" aria-hidden="true">${path}${outlines}</g>
<g class="values" aria-hidden="true">${texts.join('')}</g>
</svg>
<div class="legend" aria-hidden="true"><span>${esc(compact(lo))}</span><span class="legend-ramp"></span><span>${esc(compact(hi))}</span><span class="legend-map">chosen mapping</span></div>`;
}

function labels(given: readonly string[] | undefined, count: number): string[] {
  return Array.from({ length: count }, (_, i) => given?.[i] ?? String(i + 1));
}
