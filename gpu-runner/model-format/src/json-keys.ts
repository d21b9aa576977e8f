/**
 * JSON.parse keeps the last of two equal keys and reorders integer-like keys,
 * so it can neither report duplicates nor tell the order keys were written
 * in. This scanner walks already-validated JSON text once and does both.
 */

export interface JsonKeyScan {
  /** The keys of the top-level object, in the order they appear. */
  topLevelKeys: string[];
  /** The first key that appears twice in the same object, with its object's path. */
  duplicate?: { key: string; path: string };
}

interface Frame {
  kind: 'object' | 'array';
  keys: Set<string> | null;
  path: string;
  expectingKey: boolean;
  lastKey: string;
}

/**
 * Scans JSON text that JSON.parse has already accepted (so the scanner only
 * needs to track strings, nesting and which strings are keys).
 */
export function scanJsonKeys(text: string): JsonKeyScan {
  const topLevelKeys: string[] = [];
  const stack: Frame[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const end = endOfString(text, i);
      const top = stack[stack.length - 1];
      if (top !== undefined && top.kind === 'object' && top.expectingKey) {
        const key = JSON.parse(text.slice(i, end)) as string;
        if (top.keys!.has(key)) return { topLevelKeys, duplicate: { key, path: top.path } };
        top.keys!.add(key);
        top.expectingKey = false;
        top.lastKey = key;
        if (stack.length === 1) topLevelKeys.push(key);
      }
      i = end;
      continue;
    }
    if (c === '{' || c === '[') {
      const parent = stack[stack.length - 1];
      const path = parent === undefined ? '' : parent.kind === 'object' ? joinPath(parent.path, parent.lastKey) : `${parent.path}[]`;
      stack.push({ kind: c === '{' ? 'object' : 'array', keys: c === '{' ? new Set() : null, path, expectingKey: c === '{', lastKey: '' });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top !== undefined && top.kind === 'object') top.expectingKey = true;
    }
    i++;
  }
  return { topLevelKeys };
}

function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** Index just past the closing quote of the string starting at `start`. */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  return text.length;
}
