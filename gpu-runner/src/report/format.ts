/** Number formatting shared by the report's tables and charts. */

/** A fraction as a percentage, e.g. 0.92814 → "92.81%"; "—" for a missing value. */
export function pct(v: number | null | undefined, digits = 2): string {
  return isNum(v) ? `${(v * 100).toFixed(digits)}%` : '—';
}

/** A difference of two fractions in percentage points, signed: "+1.20 pp". */
export function pp(delta: number): string {
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
  return `${sign}${Math.abs(delta * 100).toFixed(2)} pp`;
}

export function seconds(v: number | null | undefined): string {
  if (!isNum(v)) return '—';
  if (v >= 100) return `${v.toFixed(0)} s`;
  if (v >= 1) return `${v.toFixed(2)} s`;
  return `${(v * 1000).toFixed(v >= 0.01 ? 0 : 1)} ms`;
}

/** Short, width-bounded form of a cost value for a heatmap cell: 140625 → "141k", 0.0321 → "0.032". */
export function compact(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e9) return `${trim((v / 1e9).toPrecision(3))}G`;
  if (a >= 1e6) return `${trim((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${trim((v / 1e3).toPrecision(3))}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 0.01) return trim(v.toPrecision(3));
  return v.toExponential(1);
}

/** Full precision for tooltips and tables, without float noise: 0.30000000000000004 → "0.3". */
export function exact(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(12))) : String(v);
}

export function integer(v: number): string {
  return v.toLocaleString('en-US');
}

export function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function trim(s: string): string {
  return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s;
}
