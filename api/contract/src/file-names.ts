/**
 * What a file name may be (README, "Errors"): the name a user gives a file at
 * create, kept exactly and handed back in `Content-Disposition` on download.
 *
 * Unicode letters, marks, digits, punctuation, symbols and emoji are welcome.
 * Refused, each with its own message naming the rule:
 * - empty, or more than FILE_NAME_MAX_BYTES bytes of UTF-8 (what file systems
 *   and S3 keys allow for one name);
 * - not well-formed Unicode (an unpaired UTF-16 surrogate has no UTF-8 form, so
 *   it could not round-trip);
 * - "/" or "\" (a name is not a path), or "." / ".." alone;
 * - control characters (C0, DEL, C1): they break headers and log lines;
 * - bidirectional embedding/override/isolate controls (U+202A–U+202E,
 *   U+2066–U+2069): they make a name display as another one
 *   ("model‮srotensfas.exe"). Plain direction marks (U+200E, U+200F, U+061C)
 *   only affect neutral characters and are kept.
 */

export const FILE_NAME_MAX_BYTES = 255;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
const SEPARATOR = /[/\\]/u;
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/u;
// Without the u flag, so each half of a pair is seen on its own.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `name` is not an acceptable file name, or null when it is. */
export function fileNameProblem(name: string): string | null {
  if (name.length === 0) return 'must not be empty';
  if (LONE_SURROGATE.test(name)) return 'must be well-formed Unicode (it contains an unpaired surrogate)';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > FILE_NAME_MAX_BYTES) return `must be at most ${FILE_NAME_MAX_BYTES} bytes in UTF-8 (it is ${bytes})`;
  if (SEPARATOR.test(name)) return 'must be a plain file name without "/" or "\\"';
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  if (CONTROL.test(name)) return 'must not contain control characters';
  if (BIDI_CONTROL.test(name)) return 'must not contain bidirectional override or isolate characters (U+202A–U+202E, U+2066–U+2069)';
  return null;
}
