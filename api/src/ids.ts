/**
 * Makes resource ids in the contract's format (see contract/ids.ts): a prefix,
 * 9 base32hex characters counting down from 2^45 ms (so a lexicographic
 * listing is newest first) and 16 random base32hex characters.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuv';
const TIME_SPAN = 2 ** 45;

function randomChars(count: number): string {
  const bytes = randomBytes(count);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

export function newId(prefix: 'file' | 'fus' | 'sch', now: Date = new Date()): string {
  const countdown = (TIME_SPAN - now.getTime()).toString(32).padStart(9, '0');
  return `${prefix}_${countdown}${randomChars(16)}`;
}

export function randomToken(length: number): string {
  return randomChars(length);
}

/**
 * The id prefix of every resource made at `at` (the time part only). Ids
 * sort newest first, so in a listing every id after this one was made before `at`.
 */
export function idTimeFloor(prefix: 'file' | 'fus' | 'sch', at: Date): string {
  return `${prefix}_${(TIME_SPAN - at.getTime()).toString(32).padStart(9, '0')}`;
}

/** When an id made by newId was made (from its time part). */
export function idTime(id: string): Date {
  const countdown = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 10);
  return new Date(TIME_SPAN - parseInt(countdown, 32));
}
