import { describe, expect, it } from 'vitest';
import type { FusionReport } from '../pipeline/report.ts';
import { defaultFusionOptions } from '../engine/fusion/options.ts';
import { renderReportHtml } from './html-report.ts';
import { accuracyBars } from './results-section.ts';

/** A report shaped like `clafusion demo`'s: MLP 400-200-100-50-25 with 400-200-100, mapping [1, 2, 5]. */
function demoReport(): FusionReport {
  const A = [400, 200, 100, 50, 25];
  const B = [400, 200, 100];
  return {
    schema: 'clafusion.report/v1',
    engine: { name: 'clafusion', version: '0.1.0' },
    backend: 'wasm (tfjs 4.22.0, SIMD, 1 thread)',
    seed: 0,
    options: defaultFusionOptions('mlp'),
    inputs: [
      { index: 1, label: 'model-a.safetensors', sha256: 'a'.repeat(64), arch: { family: 'mlp', input: [784], hidden: A, classes: 10, bias: false }, role: 'deeper' },
      { index: 2, label: 'model-b.safetensors', sha256: 'b'.repeat(64), arch: { family: 'mlp', input: [784], hidden: B, classes: 10, bias: false }, role: 'shallower' },
    ],
    calibration: { samples: 200, available: 200 },
    alignment: {
      groups: [
        {
          name: 'hidden',
          rows: A.map((_, i) => `fc${i + 1}`),
          cols: B.map((_, i) => `fc${i + 1}`),
          costMatrix: A.map((x) => B.map((y) => (x - y) ** 2)),
          mapping: [1, 2, 5],
          cost: 5625,
          rowsModel: 1,
          colsModel: 2,
        },
      ],
    },
    balance: { method: 'add', depthAligned: [{ input: 2, arch: { family: 'mlp', input: [784], hidden: [400, 200, 200, 200, 100], classes: 10, bias: false } }] },
    fusion: {
      method: 'ot-activations',
      n0: 1,
      n1: 2,
      anchor: null,
      weights: [0.5, 0.5],
      layers: [
        { name: 'fc1.weight', plan: [400, 400], cost: 25.73, model: 1 },
        { name: 'fc6.weight', plan: [10, 10], cost: 53.29, model: 1 },
      ],
    },
    fused: { arch: { family: 'mlp', input: [784], hidden: [400, 200, 200, 200, 100], classes: 10, bias: false }, sha256: 'f'.repeat(64), parameters: 494600 },
    accuracy: { models: [0.9401, 0.9296], fused: 0.9281, ensemble: 0.9486, depthAligned: [0.9296], depthAlignedInputs: [2], samples: 2004 },
    timings: { activations: 0.038, cost: 0.0004, alignment: 0.0004, balance: 0.002, fusion: 0.399, evaluation: 0.54, total: 0.981 },
  };
}

const count = (html: string, re: RegExp) => (html.match(re) ?? []).length;

describe('renderReportHtml', () => {
  it('draws the cost matrix as m×n cells with the n mapped cells marked', () => {
    const html = renderReportHtml(demoReport());
    expect(count(html, /<rect class="cell"[^>]*data-row="\d+"/g)).toBe(15);
    expect(count(html, /data-mapped="true"/g)).toBe(3);
    for (const [row, col, value] of [[1, 1, 0], [2, 2, 0], [5, 3, 5625]]) {
      expect(html).toContain(`data-row="${row}" data-col="${col}" data-value="${value}" data-mapped="true"`);
    }
    expect(html).toMatch(/<title>fc5 \(model 1 \(deeper\)\) × fc3 \(model 2 \(shallower\)\): cost 5625 — chosen by the alignment<\/title>/);
  });

  it('marks the identity layers B′ gets with add, and the merged layers with merge', () => {
    const add = renderReportHtml(demoReport());
    expect(count(add, /class="unit inserted"/g)).toBe(2);
    expect(add).toContain('→ B′ (+2 identity)');
    const merge = demoReport();
    merge.balance = { method: 'merge', depthAligned: [{ input: 1, arch: { family: 'mlp', input: [784], hidden: [400, 200, 25], classes: 10, bias: false } }] };
    const html = renderReportHtml(merge);
    expect(count(html, /class="unit merged"/g)).toBe(2);
    expect(count(html, /class="unit inserted"/g)).toBe(0);
    expect(html).toContain('fc3 of model 1 · deeper: merged into fc5');
  });

  it('renders every report string inert', () => {
    const report = demoReport();
    const evil = '<script>alert(1)</script>';
    report.inputs[0].label = evil;
    report.inputs[1].label = '"><img src=x onerror=alert(2)>';
    report.alignment.groups[0].name = evil;
    report.alignment.groups[0].rows[0] = `fc1${evil}`;
    report.backend = `wasm ${evil}`;
    const html = renderReportHtml(report);
    expect(html).not.toContain(evil);
    expect(html).not.toMatch(/<img/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    // The page's own script is the only one.
    expect(count(html, /<script/gi)).toBe(1);
  });

  it('references nothing outside the page and forbids the browser to fetch anything', () => {
    const html = renderReportHtml(demoReport());
    expect(html).not.toMatch(/\b(src|href)\s*=\s*"(?!#|data:)/i);
    expect(html).not.toMatch(/https?:\/\/|url\(|@import|@font-face/i);
    expect(html.replaceAll('&#39;', "'")).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
  });

  it('shows accuracy bars for inputs, depth-aligned, fused and ensemble, and any newer accuracy field', () => {
    const report = demoReport();
    report.accuracy!.fusedBeforeBnReestimate = 0.41;
    report.fusion.normalization = ['bn-reestimate'];
    (report.accuracy as Record<string, unknown>).fusedAfterSomethingNew = 0.95;
    const bars = accuracyBars(report);
    expect(bars.map((b) => [b.label, b.kind, b.detail])).toEqual([
      ['model 1', 'input', 'model-a.safetensors'],
      ['model 2', 'input', 'model-b.safetensors'],
      ['model 2, depth-aligned', 'aligned', 'identity layers inserted (B′)'],
      ['fused model, before BN re-estimation', 'step', 'as fused'],
      ['fused model', 'fused', 'ot-activations + BN re-estimation'],
      ['fused after something new', 'step', undefined],
      ['prediction ensemble', 'ensemble', 'weighted average of the inputs’ outputs'],
    ]);
    const html = renderReportHtml(report);
    expect(html).toContain('92.81%');
    expect(html).toContain('−1.20 pp');
  });

  it('with REPAIR shows the fused model before it as a step and the repaired one as the fused model', () => {
    const report = demoReport();
    report.accuracy!.fusedBeforeRepair = report.accuracy!.fused;
    report.accuracy!.repaired = 0.8765;
    report.fusion.normalization = ['repair'];
    const bars = accuracyBars(report).map((b) => [b.label, b.kind, b.value]);
    expect(bars).toContainEqual(['fused model, before REPAIR', 'step', report.accuracy!.fused]);
    expect(bars).toContainEqual(['fused model', 'fused', 0.8765]);
    expect(bars.filter(([label]) => String(label).startsWith('fused'))).toHaveLength(2);
    report.sweep = { weights: [0, 1], accuracy: [0.5, 0.6], ensembleAccuracy: [0.7, 0.8], repairedAccuracy: [0.65, 0.75] };
    const html = renderReportHtml(report);
    expect(html).toContain('fused model, before REPAIR');
    expect(html).toContain('75.00%');
  });

  it('draws training curves and the sweep only when the report has them', () => {
    const plain = renderReportHtml(demoReport());
    expect(plain).not.toContain('id="training"');
    expect(plain).not.toContain('id="sweep"');
    const report = demoReport();
    report.training = {
      kind: 'finetune',
      bestEpoch: 2,
      history: [
        { epoch: 1, loss: 0.4, trainAccuracy: 0.9, evalAccuracy: 0.93, lr: 0.01 },
        { epoch: 2, loss: 0.3, trainAccuracy: 0.93, evalAccuracy: 0.95, lr: 0.01 },
        { epoch: 3, loss: 0.25, trainAccuracy: 0.94, evalAccuracy: 0.945, lr: 0.001 },
      ],
    };
    report.sweep = { weights: [0, 0.5, 1], accuracy: [0.93, 0.9281, 0.94], ensembleAccuracy: [0.9296, 0.9486, 0.9401] };
    const html = renderReportHtml(report);
    expect(html).toContain('id="training"');
    expect(html).toContain('the weights of epoch 2 were kept');
    expect(html).toContain('learning rate 0.01 → 0.001');
    expect(accuracyBars(report).find((b) => b.label === 'fused model, after finetuning')).toMatchObject({ value: 0.95, detail: 'epoch 2 of 3 kept', kind: 'fused' });
    expect(accuracyBars(report).find((b) => b.label === 'fused model, before training')).toMatchObject({ value: 0.9281, kind: 'step' });
    expect(html).toContain('Fused model, after finetuning</p><p class="v">95.00%');
    // A newer report states the number it reports; that one wins over the history's.
    (report.accuracy as Record<string, unknown>).finetuned = { fused: 0.951, models: [0.945, 0.935] };
    const bars = accuracyBars(report);
    expect(bars.find((b) => b.label === 'fused model, after finetuning')?.value).toBe(0.951);
    expect(bars.filter((b) => b.label.endsWith(', finetuned')).map((b) => b.value)).toEqual([0.945, 0.935]);
    expect(html).toContain('id="sweep"');
    expect(html).toContain('w, weight of model 1 (model 2 gets 1 − w)');
    expect(html).toContain('this run (w = 0.5)');
    expect(count(html, /<circle /g)).toBe(3 + 3 + 3 * 2 + 3); // loss, train, eval, sweep fused + ensemble
  });

  it('renders a report without accuracy, alignment or optional fields', () => {
    const report = demoReport();
    report.accuracy = null;
    report.alignment = { groups: [] };
    report.balance = { method: 'add', depthAligned: [] };
    const html = renderReportHtml(report);
    expect(html).toContain('no cross-layer alignment was needed');
    expect(html).toContain('No evaluation data was given');
    expect(count(html, /data-row=/g)).toBe(0);
  });

  it('renders one heatmap per group for K models, named by member', () => {
    const report = demoReport();
    const g = report.alignment.groups[0];
    report.alignment.groups = [
      { ...g, name: 'model 2: hidden', colsModel: 2 },
      { ...g, name: 'model 3: hidden', colsModel: 3, mapping: [1, 3, 5], cost: 90000 + 2500 },
    ];
    report.inputs.push({ ...report.inputs[1], index: 3, label: 'model-c.safetensors', role: 'member' });
    const html = renderReportHtml(report);
    expect(count(html, /<svg class="heatmap"/g)).toBe(2);
    expect(count(html, /data-mapped="true"/g)).toBe(6);
    expect(html).toContain('id="g1-heatmap"');
  });
});
