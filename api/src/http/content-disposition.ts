/**
 * `Content-Disposition` for a stored name, per RFC 6266 with the RFC 8187
 * (formerly 5987) extended parameter: an ASCII-only `filename="…"` for old
 * clients, then `filename*=UTF-8''<percent-encoded>` that every current
 * browser and curl (`-J`) prefer. The header value is pure printable ASCII
 * whatever the name holds, so Node never refuses it and no CR/LF, quote or
 * `;` in a name can end the parameter or inject a header.
 */

/** RFC 8187 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~". */
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;

/**
 * `value` as RFC 8187 `value-chars`: every UTF-8 byte outside attr-char as %XX
 * (an unpaired surrogate, possible only in a record older than the name rules,
 * encodes as U+FFFD, as Buffer.from does).
 */
export function encodeExtValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && ATTR_CHAR.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The ASCII fallback: printable ASCII kept except `"` and `\` (which would need
 * quoting rules old clients get wrong) and `%` (some clients percent-decode
 * the plain parameter); everything else becomes `_`.
 */
export function asciiFallback(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/gu, '_');
  return ascii.trim() === '' ? 'download' : ascii;
}

export function contentDisposition(type: 'attachment' | 'inline', name: string): string {
  return `${type}; filename="${asciiFallback(name)}"; filename*=UTF-8''${encodeExtValue(name)}`;
}
