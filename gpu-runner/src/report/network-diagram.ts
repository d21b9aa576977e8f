/**
 * The two networks of an alignment group side by side, as columns of layers
 * (the paper's Figure 2c). The deeper model's units sit in the top row; the
 * shallower model's units sit under the unit each one is mapped to, so the
 * mapping reads as vertical links. Balancing is drawn where it happens:
 * with `add`, the identity layers inserted into the shallower model (B′) fill
 * the gaps of the bottom row; with `merge`, the deeper model's unmatched
 * layers are marked as folded into the next matched layer.
 */
import type { ReportAlignmentGroup } from '../pipeline/report.ts';
import { esc } from './escape.ts';
import { integer } from './format.ts';

export interface DiagramModel {
  /** e.g. "model 1 · deeper" */
  title: string;
  /** e.g. the file name */
  subtitle: string;
  /** Neuron/channel count per unit of the group, when known (MLP hidden layers). */
  widths?: number[];
}

export interface DiagramOptions {
  id: string;
  method: 'add' | 'merge';
  rows: DiagramModel;
  cols: DiagramModel;
  /** Input and output sizes, drawn as the fixed ends of both networks (MLPs). */
  ends?: { input: number; output: number };
}

const GAP = 86;
const BOX = 56;
const LEFT = 164;

export function renderNetworkDiagram(group: ReportAlignmentGroup, options: DiagramOptions): string {
  const m = group.costMatrix?.length ?? group.rows?.length ?? 0;
  const mapping = group.mapping ?? [];
  if (m === 0 || mapping.length === 0) return '';
  const rowNames = Array.from({ length: m }, (_, i) => group.rows?.[i] ?? `${i + 1}`);
  const colNames = mapping.map((_, j) => group.cols?.[j] ?? `${j + 1}`);
  const rowOf = new Map(mapping.map((row, col) => [row - 1, col]));
  const ends = options.ends;
  const offset = ends ? 1 : 0;
  const columns = m + 2 * offset;
  const width = LEFT + columns * GAP + 8;

  const allWidths = [...(options.rows.widths ?? []), ...(options.cols.widths ?? []), ...(ends ? [ends.input, ends.output] : [])];
  const maxWidth = Math.max(1, ...allWidths);
  // Heights grow with the square root of the width so 10 and 784 both stay legible.
  const heightOf = (w: number | undefined) => (w === undefined ? 40 : 22 + 52 * Math.sqrt(w / maxWidth));
  const tallest = heightOf(allWidths.length ? maxWidth : undefined);
  const topY = 58 + tallest / 2;
  const bottomY = topY + tallest + 76;
  const height = bottomY + tallest / 2 + 22;
  const x = (unit: number) => LEFT + (unit + offset) * GAP + GAP / 2;

  const parts: string[] = [];
  const links: string[] = [];
  const box = (cx: number, cy: number, w: number | undefined, name: string, cls: string, tip: string, sub?: string) => {
    const h = heightOf(w);
    const caption = sub ?? (w === undefined ? '' : integer(w));
    parts.push(
      `<g class="unit ${cls}"><title>${esc(tip)}</title><rect x="${cx - BOX / 2}" y="${cy - h / 2}" width="${BOX}" height="${h}" rx="7"/>` +
        `<text class="unit-name" x="${cx}" y="${cy + h / 2 + 14}">${esc(name)}</text>` +
        (caption ? `<text class="unit-size" x="${cx}" y="${cy}">${esc(caption)}</text>` : '') +
        '</g>',
    );
  };

  // Fixed ends: the input and output layers are shared, never aligned.
  if (ends) {
    for (const y of [topY, bottomY]) {
      box(x(-1), y, ends.input, 'input', 'end', `input: ${ends.input} features`);
      box(x(m), y, ends.output, 'output', 'end', `output: ${ends.output} classes`);
    }
  }

  // Top row: the deeper model. With merge, unmatched layers fold forward.
  const nextMatched = (i: number) => [...rowOf.keys()].filter((r) => r > i).sort((a, b) => a - b)[0];
  for (let i = 0; i < m; i++) {
    const w = options.rows.widths?.[i];
    const matched = rowOf.has(i);
    if (options.method === 'merge' && !matched) {
      const into = nextMatched(i);
      const intoName = into === undefined ? 'the classifier' : rowNames[into];
      box(x(i), topY, w, rowNames[i], 'merged', `${rowNames[i]} of ${options.rows.title}: merged into ${intoName}`);
      const target = into === undefined ? (ends ? x(m) : x(m - 1)) : x(into);
      const y0 = topY - heightOf(w) / 2 - 4;
      links.push(`<path class="merge-arrow" d="M${x(i)},${y0} C${x(i)},${y0 - 26} ${target},${y0 - 26} ${target - 6},${y0 - 6}" marker-end="url(#${options.id}-arrow)"/>`);
    } else {
      const tip = matched ? `${rowNames[i]} of ${options.rows.title} ↔ ${colNames[rowOf.get(i)!]} of ${options.cols.title}` : `${rowNames[i]} of ${options.rows.title}: no partner; B′ gets an identity layer here`;
      box(x(i), topY, w, rowNames[i], matched ? 'matched' : 'plain', tip);
    }
  }

  // Bottom row: the shallower model under its partners, and B′'s identities.
  let lastWidth: number | undefined = ends?.input;
  for (let i = 0; i < m; i++) {
    const col = rowOf.get(i);
    if (col !== undefined) {
      const w = options.cols.widths?.[col];
      lastWidth = w;
      box(x(i), bottomY, w, colNames[col], 'matched', `${colNames[col]} of ${options.cols.title} ↔ ${rowNames[i]} of ${options.rows.title}`);
      links.push(link(x(i), topY + heightOf(options.rows.widths?.[i]) / 2 + 20, bottomY - heightOf(w) / 2 - 4, 'map-link'));
    } else if (options.method === 'add') {
      const w = options.cols.widths ? lastWidth : undefined;
      box(x(i), bottomY, w, 'identity', 'inserted', `identity layer inserted into ${options.cols.title} opposite ${rowNames[i]}${w ? ` (${w} neurons)` : ''}`, w === undefined ? 'id' : undefined);
      links.push(link(x(i), topY + heightOf(options.rows.widths?.[i]) / 2 + 20, bottomY - heightOf(w) / 2 - 4, 'id-link'));
    }
  }

  // The chain of each network, drawn first so boxes sit on top of it.
  const chain = (y: number) => `<line class="chain" x1="${x(-offset)}" y1="${y}" x2="${x(m - 1 + offset)}" y2="${y}"/>`;
  const label = (y: number, model: DiagramModel, note = '') =>
    `<text class="row-title" x="12" y="${y - 4}">${esc(model.title)}</text><text class="row-sub" x="12" y="${y + 14}">${esc(ellipsis(model.subtitle, 24))}<title>${esc(model.subtitle)}</title></text>` +
    (note ? `<text class="row-sub" x="12" y="${y + 30}">${esc(note)}</text>` : '');
  const inserted = m - mapping.length;
  const bottomNote = options.method === 'add' && inserted > 0 ? `→ B′ (+${inserted} identity)` : '';
  const topNote = options.method === 'merge' && inserted > 0 ? `→ Aₘ (${inserted} merged)` : '';
  const desc =
    `${options.rows.title} (top) and ${options.cols.title} (bottom) as layer columns. ` +
    `Each of ${options.cols.title}'s layers sits under the layer it is aligned to: [${mapping.join(', ')}]. ` +
    (options.method === 'add'
      ? 'Dashed boxes are identity layers inserted to balance the depths.'
      : `Hatched layers of ${options.rows.title} are merged into the next aligned layer.`);

  return `<svg class="network" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${options.id}-title ${options.id}-desc">
<title id="${options.id}-title">Layer alignment of ${esc(group.name)}</title><desc id="${options.id}-desc">${esc(desc)}</desc>
<defs><marker id="${options.id}-arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrow-head"/></marker></defs>
${chain(topY)}${chain(bottomY)}
${label(topY, options.rows, topNote)}${label(bottomY, options.cols, bottomNote)}
<g class="links">${links.join('')}</g>
<g class="units">${parts.join('\n')}</g>
</svg>`;
}

function link(cx: number, y1: number, y2: number, cls: string): string {
  return `<line class="${cls}" x1="${cx}" y1="${y1}" x2="${cx}" y2="${y2}"/>`;
}

function ellipsis(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
