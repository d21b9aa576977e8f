/**
 * The heatmap's colour ramp. The page restyles cells with CSS (color-mix on
 * a per-cell --t) so dark mode gets its own ramp; this computes the
 * light-theme colour as the `fill` attribute, which is what shows wherever
 * that CSS is not supported (and in the SVG when it is copied out alone).
 */
const LOW = [0xef, 0xf4, 0xfb];
const HIGH = [0x1d, 0x3b, 0x7a];

export function heatColor(t: number): string {
  const k = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0));
  return `#${LOW.map((lo, i) => Math.round(lo + (HIGH[i] - lo) * k).toString(16).padStart(2, '0')).join('')}`;
}
