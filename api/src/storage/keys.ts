import { ObjectStoreError } from '@clafusion/contract/ports';

/**
 * Object keys are made by the service, so both adapters accept one strict,
 * shared alphabet instead of "anything S3 allows". That keeps the two stores
 * interchangeable (a key that works in a folder works in a bucket) and lets
 * the folder store map keys to paths without escaping:
 *
 * - segments are separated by `/`; no empty segment (`a//b`, leading or
 *   trailing `/`), so no absolute paths;
 * - a segment starts with a letter or digit, so `.`, `..` and hidden names
 *   are impossible, and the stores may use names starting with `.` for their
 *   own staging data;
 * - the remaining characters are ASCII letters, digits and `._-=+@,:`; no
 *   backslash, NUL, control characters, spaces, `~` (the folder store's
 *   file-name marker) or non-ASCII (which would sort differently as bytes and
 *   as UTF-16);
 * - at most 1024 bytes overall (S3's limit) and 200 per segment (leaves room
 *   for the folder store's suffix within a 255-byte file name).
 */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._\-=+@,:]*$/;
export const MAX_KEY_LENGTH = 1024;
export const MAX_SEGMENT_LENGTH = 200;

/** Why `key` is not a valid object key, or null when it is. */
export function keyProblem(key: unknown): string | null {
  if (typeof key !== 'string' || key.length === 0) return 'the key is empty';
  if (key.length > MAX_KEY_LENGTH) return `the key is longer than ${MAX_KEY_LENGTH} characters`;
  for (const segment of key.split('/')) {
    if (segment.length === 0) return 'the key has an empty segment (leading, trailing or double "/")';
    if (segment.length > MAX_SEGMENT_LENGTH) return `a key segment is longer than ${MAX_SEGMENT_LENGTH} characters`;
    if (!SEGMENT.test(segment)) {
      return `the key segment ${JSON.stringify(segment)} must start with a letter or digit and contain only letters, digits and ._-=+@,:`;
    }
  }
  return null;
}

/** Throws `invalid_key` unless `key` is a valid object key. */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== null) throw new ObjectStoreError('invalid_key', `Invalid object key: ${problem}`, typeof key === 'string' ? key : undefined);
}

/**
 * A list prefix is any beginning of a valid key (it may end in the middle of a
 * segment or with `/`), or the empty string for everything.
 */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  // Completing the prefix with a letter turns every valid beginning into a valid key.
  const probe = prefix.endsWith('/') ? `${prefix}x` : prefix;
  const problem = keyProblem(probe);
  if (problem !== null) throw new ObjectStoreError('invalid_key', `Invalid list prefix: ${problem}`, prefix);
}

/**
 * Content types end up in HTTP headers and in the folder store's header block.
 * They come from the service's code, not from users, so a bad one is a
 * programming error (TypeError), not an ObjectStoreError.
 */
export function assertValidContentType(contentType: string | undefined): void {
  if (contentType === undefined) return;
  if (contentType.length === 0 || contentType.length > 200 || !/^[\x21-\x7e][\x20-\x7e]*$/.test(contentType)) {
    throw new TypeError(`Invalid content type ${JSON.stringify(contentType)}: printable ASCII, 1 to 200 characters`);
  }
}
