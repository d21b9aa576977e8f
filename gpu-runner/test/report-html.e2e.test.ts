/**
 * The HTML report end to end: train two small MLPs of different depth on
 * real digits, fuse them through the `clafusion` binary with an eval set and
 * a weight sweep, then open the HTML report in headless Chromium over the
 * DevTools protocol and check what a reader would see — and that the page
 * logs no error and requests nothing but itself.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, writeDatasetSafetensors } from '../src/io/datasets.ts';
import type { FusionReport } from '../src/pipeline/report.ts';
import { renderReportHtml } from '../src/report/html-report.ts';
import { Browser } from './support/chromium.ts';
import { type CliRun, runCli } from './support/cli.ts';

const OUTPUT = fileURLToPath(new URL('./output/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'clafusion-report-'));
const path = (name: string) => join(dir, name);
const DEEP = [128, 96, 64, 48, 32];
const SHALLOW = [128, 64, 32];
const SWEEP = [0, 0.25, 0.5, 0.75, 1];

let browser: Browser;
let fuse: CliRun;
let report: FusionReport;

beforeAll(async () => {
  const train = await loadDataset('mnist:train', { normalize: 'mnist' });
  const test = await loadDataset('mnist:test', { normalize: 'mnist' });
  await writeDatasetSafetensors(path('calibration.safetensors'), { x: { shape: [200, 1, 28, 28], data: train.x.data.slice(0, 200 * 784) } });
  await writeDatasetSafetensors(path('eval.safetensors'), test);
  const recipe = ['--data', 'mnist:train', '--epochs', '2', '--lr', '0.05', '--momentum', '0.9', '--quiet'];
  const [trainDeep, trainShallow, launched] = await Promise.all([
    runCli(['train', '--arch', JSON.stringify({ family: 'mlp', input: [784], hidden: DEEP, classes: 10 }), '--seed', '0', '--out', path('deep.safetensors'), ...recipe]),
    runCli(['train', '--arch', JSON.stringify({ family: 'mlp', input: [784], hidden: SHALLOW, classes: 10 }), '--seed', '1', '--out', path('shallow.safetensors'), ...recipe]),
    Browser.launch(),
  ]);
  browser = launched;
  for (const r of [trainDeep, trainShallow]) expect(r.code, r.stderr).toBe(0);
  // Not --quiet: stderr is a pipe here, so this is also the log-line progress a CI job sees.
  fuse = await runCli([
    'fuse',
    '--model', path('deep.safetensors'),
    '--model', path('shallow.safetensors'),
    '--calibration', path('calibration.safetensors'),
    '--eval', path('eval.safetensors'),
    '--sweep', SWEEP.join(','),
    '--out', path('fused.safetensors'),
    '--report', path('report.json'),
    '--report-html', path('report.html'),
  ]);
  expect(fuse.code, fuse.stderr).toBe(0);
  report = JSON.parse(readFileSync(path('report.json'), 'utf8')) as FusionReport;
  mkdirSync(OUTPUT, { recursive: true });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTML report in a browser (issue #7)', () => {
  it('writes the sweep into the report and readable progress lines to a non-terminal stderr', () => {
    expect(fuse.stdout).toContain(`html report: ${path('report.html')}`);
    expect(report.sweep!.weights).toEqual(SWEEP);
    // w = 0.5 is the main run's default weighting, so it must reproduce its numbers exactly.
    expect(report.sweep!.accuracy[2]).toBe(report.accuracy!.fused);
    expect(report.sweep!.ensembleAccuracy![2]).toBe(report.accuracy!.ensemble);
    const lines = fuse.stderr.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/^\[[a-z ]+\] \d{1,3}% \S/);
    expect(lines).toContain('[sweep] 100% w=1: fused ' + (report.sweep!.accuracy[4] * 100).toFixed(2) + '%');
    expect(lines.filter((l) => l.startsWith('[fusion]')).length).toBeGreaterThan(3); // OT reports per layer
    expect(lines.length).toBeLessThan(60);
  });

  it('renders with no console error and no request but the page itself, and shows the cost matrix with the mapping', async () => {
    const page = await browser.newPage();
    const url = pathToFileURL(path('report.html')).href;
    await page.goto(url);
    const m = DEEP.length;
    const n = SHALLOW.length;
    const mapping = report.alignment.groups[0].mapping;
    expect(mapping).toHaveLength(n);

    const seen = await page.evaluate<{
      cells: number;
      mapped: { row: number; col: number }[];
      outlines: boolean[];
      fills: string[];
      bars: number;
      sweepPoints: number;
      overflow: boolean;
      title: string;
    }>(`(() => {
      const svg = document.querySelector('svg.heatmap');
      const cells = [...svg.querySelectorAll('rect.cell[data-row][data-col][data-value]')];
      const mapped = cells.filter((c) => c.dataset.mapped === 'true');
      const outlines = [...svg.querySelectorAll('.map-cell')].map((o, i) => {
        const a = o.getBoundingClientRect(), b = mapped[i].getBoundingClientRect();
        return Math.abs(a.x - b.x) < 4 && Math.abs(a.y - b.y) < 4 && getComputedStyle(o).stroke !== 'none' && parseFloat(getComputedStyle(o).strokeWidth) >= 2;
      });
      const byValue = [...cells].sort((a, b) => a.dataset.value - b.dataset.value);
      return {
        cells: cells.length,
        mapped: mapped.map((c) => ({ row: +c.dataset.row, col: +c.dataset.col })),
        outlines,
        fills: [getComputedStyle(byValue[0]).fill, getComputedStyle(byValue[byValue.length - 1]).fill],
        bars: document.querySelectorAll('table.bars tbody tr').length,
        sweepPoints: document.querySelectorAll('#sweep svg circle').length,
        overflow: document.documentElement.scrollWidth > innerWidth,
        title: document.title,
      };
    })()`);
    expect(seen.cells).toBe(m * n);
    expect(seen.mapped).toEqual(mapping.map((row, j) => ({ row, col: j + 1 })));
    expect(seen.outlines).toEqual(mapping.map(() => true));
    expect(seen.fills[0]).not.toBe(seen.fills[1]); // the colour ramp is applied
    expect(seen.bars).toBe(5); // two inputs, depth-aligned, fused, ensemble
    expect(seen.sweepPoints).toBe(2 * SWEEP.length);
    expect(seen.overflow).toBe(false);
    expect(seen.title).toContain('deep.safetensors + shallow.safetensors');

    await page.screenshot(join(OUTPUT, 'report.png'), { width: 1280 });
    await page.screenshot(join(OUTPUT, 'report-top.png'), { width: 1280, height: 1920 });
    await page.screenshot(join(OUTPUT, 'report-narrow.png'), { width: 390 });
    expect(await page.evaluate('document.documentElement.scrollWidth <= innerWidth')).toBe(true);
    await page.emulateColorScheme('dark');
    const background = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    const [r, g, b] = background.match(/\d+/g)!.map(Number);
    expect(r + g + b).toBeLessThan(120);
    await page.screenshot(join(OUTPUT, 'report-dark.png'), { width: 1280 });

    expect(page.log.problems).toEqual([]);
    expect(page.log.failedRequests).toEqual([]);
    expect(page.log.requests).toEqual([url]);
  });

  it('keeps hostile labels inert in the browser', async () => {
    const hostile = structuredClone(report);
    hostile.inputs[0].label = '<script>window.__pwned = 1</script>';
    hostile.inputs[1].label = '"><img src=x onerror="window.__pwned = 2">';
    hostile.alignment.groups[0].rows[0] = '<svg onload="window.__pwned = 3">';
    const file = path('hostile.html');
    writeFileSync(file, renderReportHtml(hostile));
    const page = await browser.newPage();
    await page.goto(pathToFileURL(file).href);
    const state = await page.evaluate<{ pwned: unknown; imgs: number; text: boolean }>(`({
      pwned: window.__pwned ?? null,
      imgs: document.images.length,
      text: document.body.textContent.includes('<script>window.__pwned = 1</script>'),
    })`);
    expect(state).toEqual({ pwned: null, imgs: 0, text: true });
    expect(page.log.requests).toEqual([pathToFileURL(file).href]);
    expect(page.log.problems).toEqual([]);
  });
});
