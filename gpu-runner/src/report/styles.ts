/**
 * The report's stylesheet, inlined into the page (the page makes no network
 * requests, so no web fonts: the system UI font stack). Colours are custom
 * properties with a dark set under prefers-color-scheme; the heatmap ramp is
 * a color-mix of two of them driven by each cell's --t.
 */
export const REPORT_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --surface: #ffffff; --fg: #17202c; --muted: #5d6878; --faint: #8b95a5; --border: #e2e6ec;
  --accent: #e4570f; --accent-soft: #fdeadf; --halo: #ffffff;
  --input: #6f82a3; --aligned: #aab6cb; --fused: #e4570f; --ensemble: #139a86;
  --s1: #2f6fdb; --s2: #e4570f; --s3: #139a86; --s4: #8b5cf6;
  --heat-lo: #eff4fb; --heat-hi: #1d3b7a; --heat-ink-dark: #ffffff;
  --radius: 12px;
  --font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "DejaVu Sans", Arial, sans-serif;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1116; --surface: #161b22; --fg: #e7eaf0; --muted: #9aa4b4; --faint: #6b7586; --border: #29313c;
    --accent: #ff8c42; --accent-soft: #3a2416; --halo: #161b22;
    --input: #7f93b6; --aligned: #4a5568; --fused: #ff8c42; --ensemble: #2cc3a8;
    --s1: #6ea2ff; --s2: #ff8c42; --s3: #2cc3a8; --s4: #b197fc;
    --heat-lo: #1a2230; --heat-hi: #a8c8ff; --heat-ink-dark: #0e1116;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.55 var(--font); font-feature-settings: "tnum" 1; }
main { max-width: 1160px; margin: 0 auto; padding: 32px 24px 56px; }
h1 { font-size: 26px; line-height: 1.25; margin: 4px 0 6px; letter-spacing: -0.01em; overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 0 0 4px; letter-spacing: -0.005em; }
h3 { font-size: 14px; margin: 18px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.06em; }
p { margin: 0 0 12px; }
code, .mono { font-family: var(--mono); font-size: 0.9em; }
.eyebrow { color: var(--accent); font-weight: 600; font-size: 13px; letter-spacing: 0.08em; text-transform: uppercase; margin: 0; }
.lede { color: var(--muted); margin: 0; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
header { margin-bottom: 24px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 20px 0 8px; padding: 0; list-style: none; }
.card { background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius); padding: 14px 16px; }
.card .k { color: var(--muted); font-size: 12.5px; margin: 0; }
.card .v { font-size: 22px; font-weight: 650; margin: 2px 0 0; letter-spacing: -0.01em; overflow-wrap: anywhere; }
.card .s { font-size: 12.5px; color: var(--muted); margin: 2px 0 0; }
.card.hero { border-color: var(--accent); box-shadow: inset 3px 0 0 var(--accent); }
.card .good { color: var(--ensemble); } .card .bad { color: var(--accent); }
section { background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius); padding: 22px 24px; margin: 16px 0; }
section > .intro { color: var(--muted); max-width: 78ch; }
.group { border-top: 1px solid var(--border); padding-top: 16px; margin-top: 16px; }
.group:first-of-type { border-top: 0; padding-top: 0; }
.group-head { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: baseline; margin-bottom: 10px; }
.group-head h3 { margin: 0; color: var(--fg); text-transform: none; letter-spacing: 0; font-size: 15px; }
.pill { display: inline-block; font-family: var(--mono); font-size: 12.5px; padding: 1px 8px; border-radius: 999px; background: var(--accent-soft); color: var(--accent); }
.viz { display: grid; grid-template-columns: minmax(0, auto) minmax(0, 1fr); gap: 24px; align-items: start; }
.viz figure { margin: 0; min-width: 0; }
.viz figcaption, figure > figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
/* Captions wrap to their figure's width instead of widening the grid column. */
.viz figcaption { contain: inline-size; }
@media (max-width: 860px) { .viz { grid-template-columns: 1fr; } main { padding: 20px 14px 40px; } section { padding: 18px 16px; } }
/* On a phone the network diagram keeps a legible size and scrolls sideways. */
.scroll-x { overflow-x: auto; }
@media (max-width: 700px) { .scroll-x svg.network { min-width: 640px; } }
svg { max-width: 100%; height: auto; display: block; font-family: var(--font); overflow: visible; }
svg text { fill: var(--fg); }

/* Heatmap */
.heatmap .cell { fill: color-mix(in oklab, var(--heat-hi) calc(var(--t) * 100%), var(--heat-lo)); stroke: var(--surface); stroke-width: 1.5; transition: stroke 80ms; }
.heatmap .cell:hover, .heatmap .cell.focus { stroke: var(--fg); stroke-width: 2; }
.heatmap .axis-label { font-size: 12px; fill: var(--muted); dominant-baseline: central; }
.heatmap .axis-label.col { text-anchor: middle; dominant-baseline: auto; }
.heatmap .axis-label.row { text-anchor: end; }
.heatmap .axis-label.active { fill: var(--accent); font-weight: 650; }
.heatmap .axis-title, .network .row-title { font-size: 12px; font-weight: 600; fill: var(--fg); }
.heatmap .axis-title { text-anchor: middle; }
.heatmap .cell-value { font-size: 11px; text-anchor: middle; dominant-baseline: central; pointer-events: none; fill: var(--fg); }
.heatmap .cell-value.on-dark { fill: var(--heat-ink-dark); }
.heatmap .cell-value.on-map { font-weight: 700; }
.heatmap .map-cell { fill: none; stroke: var(--accent); stroke-width: 3; pointer-events: none; }
.heatmap .map-path { stroke: var(--accent); stroke-width: 2.5; stroke-linecap: round; pointer-events: none; }
.legend { display: flex; align-items: center; gap: 8px; font-size: 12px; color: var(--muted); margin-top: 8px; flex-wrap: wrap; }
.legend-ramp { width: 120px; height: 10px; border-radius: 3px; background: linear-gradient(90deg, var(--heat-lo), var(--heat-hi)); border: 1px solid var(--border); }
.legend-map { margin-left: 10px; display: inline-flex; align-items: center; gap: 6px; }
.legend-map::before { content: ""; width: 12px; height: 12px; border: 2.5px solid var(--accent); border-radius: 3px; }

/* Network diagram */
.network .chain { stroke: var(--border); stroke-width: 2; }
.network .unit rect { fill: var(--surface); stroke: var(--faint); stroke-width: 1.5; }
.network .unit.matched rect { fill: var(--accent-soft); stroke: var(--accent); stroke-width: 2; }
.network .unit.end rect { fill: var(--bg); stroke: var(--border); }
.network .unit.inserted rect { fill: none; stroke: var(--faint); stroke-dasharray: 5 4; }
.network .unit.merged rect { fill: var(--bg); stroke: var(--faint); stroke-dasharray: 2 3; }
.network .unit-name { font-size: 11.5px; text-anchor: middle; fill: var(--muted); }
.network .unit-size { font-size: 11px; font-weight: 600; text-anchor: middle; dominant-baseline: central; }
.network .unit.inserted .unit-size, .network .unit.merged .unit-size { fill: var(--faint); }
.network .row-sub { font-size: 11.5px; fill: var(--muted); }
.network .map-link { stroke: var(--accent); stroke-width: 2; }
.network .id-link { stroke: var(--faint); stroke-width: 1.5; stroke-dasharray: 4 4; }
.network .merge-arrow { fill: none; stroke: var(--faint); stroke-width: 1.5; }
.network .arrow-head { fill: var(--faint); }
.key { display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 12.5px; color: var(--muted); margin: 8px 0 0; padding: 0; list-style: none; }
.key li { display: inline-flex; align-items: center; gap: 6px; }
.key i { width: 14px; height: 12px; border-radius: 3px; border: 1.5px solid var(--faint); display: inline-block; }
.key .k-matched { background: var(--accent-soft); border-color: var(--accent); }
.key .k-inserted { border-style: dashed; }
.key .k-merged { border-style: dotted; background: var(--bg); }

/* Tables and bars */
table { border-collapse: collapse; width: 100%; font-size: 14px; }
caption { text-align: left; color: var(--muted); font-size: 13px; padding-bottom: 8px; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--border); text-align: left; vertical-align: top; }
thead th { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; }
tbody tr:last-child th, tbody tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.bars th[scope=row] { font-weight: 500; width: 34%; overflow-wrap: anywhere; }
.bars .detail { display: block; color: var(--muted); font-size: 12.5px; font-weight: 400; }
.bars .bar-cell { width: 46%; }
.bars th, .bars td { vertical-align: middle; }
.bar-track { display: block; height: 14px; border-radius: 4px; background: color-mix(in oklab, var(--border) 55%, transparent); overflow: hidden; }
.bar { display: block; height: 100%; border-radius: 4px; background: var(--input); }
.bar-aligned .bar { background: var(--aligned); }
.bar-fused .bar { background: var(--fused); }
.bar-step .bar { background: color-mix(in oklab, var(--fused) 45%, var(--surface)); }
.bar-ensemble .bar { background: var(--ensemble); }
.bar-fused th, .bar-fused td.num { font-weight: 650; }
.delta { color: var(--muted); }
@media (max-width: 640px) {
  .bars thead { display: none; }
  .bars tr { display: grid; grid-template-columns: minmax(0, 1fr) 4.6em 5.6em; align-items: center; gap: 4px 12px; padding: 10px 0; border-bottom: 1px solid var(--border); }
  .bars tbody tr:last-child { border-bottom: 0; }
  .bars th[scope=row], .bars td { border: 0; padding: 0; width: auto; }
  .bars th[scope=row] { grid-column: 1 / -1; }
  .bars .bar-cell { width: auto; }
}
.share { display: inline-block; height: 8px; border-radius: 3px; background: var(--input); vertical-align: middle; min-width: 1px; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; font-size: 14px; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; overflow-wrap: anywhere; }
.options { columns: 2 340px; column-gap: 32px; margin: 0; font-size: 13.5px; }
.options div { display: flex; justify-content: space-between; gap: 16px; padding: 5px 0; border-bottom: 1px solid var(--border); break-inside: avoid; }
.options dt { font-family: var(--mono); font-size: 12.5px; color: var(--muted); }
.options dd { margin: 0; font-family: var(--mono); font-size: 12.5px; text-align: right; overflow-wrap: anywhere; }
.hash { font-family: var(--mono); font-size: 12.5px; overflow-wrap: anywhere; word-break: break-all; }
.cols-2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 8px 32px; }
details { margin-top: 12px; }
summary { cursor: pointer; color: var(--muted); font-size: 13.5px; }
pre { background: var(--bg); border: 1px solid var(--border); border-radius: 8px; padding: 12px; overflow: auto; font: 12.5px/1.5 var(--mono); max-height: 420px; }
.table-scroll { overflow-x: auto; }

/* Line charts */
.sweep { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 28px; align-items: start; }
@media (max-width: 860px) { .sweep { grid-template-columns: 1fr; } }
table.compact { font-size: 13px; }
table.compact th, table.compact td { padding: 4px 8px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 20px; }
.chart { margin: 0; }
.chart .grid { stroke: var(--border); stroke-width: 1; }
.chart .tick { font-size: 11px; fill: var(--muted); }
.chart .tick.y { text-anchor: end; dominant-baseline: central; }
.chart .tick.x { text-anchor: middle; }
.chart .axis-name { font-size: 12px; fill: var(--muted); text-anchor: middle; }
.chart .series path { fill: none; stroke-width: 2.25; stroke-linejoin: round; stroke-linecap: round; }
.chart .series circle { stroke: var(--surface); stroke-width: 1.5; }
.chart .series.dashed path { stroke-dasharray: 6 4; }
.chart .s1 path { stroke: var(--s1); } .chart .s1 circle { fill: var(--s1); }
.chart .s2 path { stroke: var(--s2); } .chart .s2 circle { fill: var(--s2); }
.chart .s3 path { stroke: var(--s3); } .chart .s3 circle { fill: var(--s3); }
.chart .s4 path { stroke: var(--s4); } .chart .s4 circle { fill: var(--s4); }
.chart .ref line { stroke: var(--faint); stroke-width: 1.5; stroke-dasharray: 2 4; }
.chart .ref.s1 line { stroke: var(--s1); } .chart .ref.s4 line { stroke: var(--s4); }
.chart .marker line { stroke: var(--faint); stroke-width: 1; }
.chart .marker text { font-size: 11px; fill: var(--muted); text-anchor: middle; }
.chart-legend { display: flex; flex-wrap: wrap; gap: 4px 16px; list-style: none; padding: 0; margin: 4px 0 0; font-size: 12.5px; color: var(--muted); }
.chart-legend li { display: inline-flex; align-items: center; gap: 6px; }
.chart-legend .swatch { width: 16px; height: 0; border-top: 2.5px solid var(--faint); }
.chart-legend .dashed .swatch { border-top-style: dashed; }
.chart-legend .ref .swatch { border-top-width: 2px; border-top-style: dotted; }
.chart-legend .s1 .swatch { border-color: var(--s1); } .chart-legend .s2 .swatch { border-color: var(--s2); }
.chart-legend .s3 .swatch { border-color: var(--s3); } .chart-legend .s4 .swatch { border-color: var(--s4); }
footer { color: var(--faint); font-size: 12.5px; text-align: center; margin-top: 28px; }
@media print { body { background: #fff; } section, .card { break-inside: avoid; box-shadow: none; } }
`;
