/** The "Layer alignment" section: per group, the cost heatmap beside the two networks. */
import { numel } from '@clafusion/model-format/tensor';
import type { FusionReport, ReportAlignmentGroup, ReportInput } from '../pipeline/report.ts';
import { esc } from './escape.ts';
import { exact } from './format.ts';
import { renderHeatmap } from './heatmap.ts';
import { type DiagramModel, renderNetworkDiagram } from './network-diagram.ts';

export function renderAlignmentSection(report: FusionReport): string {
  const groups = report.alignment?.groups ?? [];
  const method = report.balance?.method === 'merge' ? 'merge' : 'add';
  const intro =
    groups.length === 0
      ? '<p class="intro">The models have the same depth, so no cross-layer alignment was needed: they were fused layer by layer.</p>'
      : `<p class="intro">Cross-layer alignment matches every hidden layer of the shallower model to a layer of the deeper one, in order, minimising the summed layer cost (CLA, a dynamic program over the cost matrix). ${
          method === 'add'
            ? 'The depths were then balanced by inserting identity layers into the shallower model (B′).'
            : "The depths were then balanced by merging the deeper model's unmatched layers into their neighbours (A<sub>m</sub>)."
        }</p>`;
  return `<section id="alignment" aria-labelledby="alignment-h"><h2 id="alignment-h">Layer alignment</h2>${intro}
${groups.map((g, i) => renderGroup(report, g, i, method)).join('\n')}</section>`;
}

function renderGroup(report: FusionReport, group: ReportAlignmentGroup, index: number, method: 'add' | 'merge'): string {
  const rowsInput = report.inputs?.[group.rowsModel - 1];
  const colsInput = report.inputs?.[group.colsModel - 1];
  const m = group.costMatrix?.length ?? 0;
  const rowsModel = diagramModel(group.rowsModel, rowsInput, m);
  const colsModel = diagramModel(group.colsModel, colsInput, group.costMatrix?.[0]?.length ?? 0);
  const arch = rowsInput?.arch;
  const ends = arch?.family === 'mlp' && rowsModel.widths ? { input: numel(arch.input), output: arch.classes } : undefined;
  const id = `g${index}`;
  const heatmap = renderHeatmap(group, `${id}-heatmap`, { rows: axisName(group.rowsModel, rowsInput), cols: axisName(group.colsModel, colsInput) });
  const diagram = renderNetworkDiagram(group, { id: `${id}-net`, method, rows: rowsModel, cols: colsModel, ends });
  const key =
    `<ul class="key"><li><i class="k-matched"></i>aligned pair</li>` +
    (method === 'add' ? '<li><i class="k-inserted"></i>identity layer inserted (B′)</li>' : '<li><i class="k-merged"></i>merged into the next aligned layer</li>') +
    '</ul>';
  return `<div class="group"><div class="group-head"><h3>${esc(group.name)}</h3><span class="pill">mapping [${esc((group.mapping ?? []).join(', '))}]</span>
<span class="muted">total cost ${esc(exact(group.cost))} · model ${group.colsModel} → model ${group.rowsModel}</span></div>
<div class="viz"><figure>${heatmap}<figcaption>Rows: ${esc(rowsInput?.label ?? rowsModel.title)} · columns: ${esc(colsInput?.label ?? colsModel.title)}</figcaption></figure>
<figure><div class="scroll-x">${diagram}</div>${key}</figure></div>
${costTable(group)}</div>`;
}

function diagramModel(index: number, input: ReportInput | undefined, units: number): DiagramModel {
  const widths = input?.arch.family === 'mlp' && input.arch.hidden.length === units ? input.arch.hidden : undefined;
  return { title: `model ${index}${input ? ` · ${input.role}` : ''}`, subtitle: input?.label ?? '', widths };
}

function axisName(index: number, input: ReportInput | undefined): string {
  return input && input.role !== 'member' && input.role !== 'equal-depth' ? `model ${index} (${input.role})` : `model ${index}`;
}

/** The same numbers as a table, for screen readers and for copying. */
function costTable(group: ReportAlignmentGroup): string {
  const cols = group.costMatrix?.[0]?.length ?? 0;
  const head = Array.from({ length: cols }, (_, j) => `<th scope="col" class="num">${esc(group.cols?.[j] ?? j + 1)}</th>`).join('');
  const body = (group.costMatrix ?? [])
    .map(
      (row, i) =>
        `<tr><th scope="row">${esc(group.rows?.[i] ?? i + 1)}</th>${row
          .map((v, j) => `<td class="num">${group.mapping?.[j] === i + 1 ? `<strong>${esc(exact(v))}</strong>` : esc(exact(v))}</td>`)
          .join('')}</tr>`,
    )
    .join('');
  return `<details><summary>Cost matrix as a table</summary><div class="table-scroll"><table><thead><tr><th scope="col">layer</th>${head}</tr></thead><tbody>${body}</tbody></table></div></details>`;
}
