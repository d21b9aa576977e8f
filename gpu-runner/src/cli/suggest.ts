/** "Did you mean": the known name closest to a mistyped one, by edit distance. */

/** Levenshtein distance (insert, delete, substitute: 1 each), with dashes ignored so --layercost finds --layer-cost at 0. */
export function editDistance(a: string, b: string): number {
  const s = a.replaceAll('-', '');
  const t = b.replaceAll('-', '');
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[t.length];
}

/**
 * The closest of `known` to `name`, or undefined when none is close enough
 * to be a typo (at most a third of the name's length, and at least 2, may differ).
 * Ties go to the first in `known`.
 */
export function closest(name: string, known: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
