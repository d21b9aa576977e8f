import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ObjectStoreError } from '../ports/object-store.ts';

/**
 * Walks a put body chunk by chunk, hashing (sha256) and counting on the way,
 * and fails with `too_large` as soon as more than `maxBytes` went by. Both
 * stores write what it yields, so neither ever holds a whole upload in memory
 * and both enforce the limit before the excess reaches the disk or the wire.
 */
export class MeteredBody {
  private readonly hash: Hash = createHash('sha256');
  size = 0;
  /**
   * Why reading the body failed, if it did: the caller's stream's own error,
   * or `too_large`. Adapters hand this error back unchanged even when their
   * SDK (lib-storage) replaced it on the way out.
   */
  bodyError: unknown;

  constructor(
    private readonly body: Uint8Array | Readable,
    private readonly key: string,
    private readonly maxBytes: number | undefined,
  ) {
    if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
      throw new TypeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    }
    if (body instanceof Uint8Array) this.check(body.byteLength);
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    if (this.body instanceof Uint8Array) {
      this.add(this.body);
      yield this.body;
      return;
    }
    const source = (this.body as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    try {
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await source.next();
        } catch (e) {
          this.bodyError = e;
          throw e;
        }
        if (next.done) return;
        const chunk = toBytes(next.value);
        this.add(chunk);
        yield chunk;
      }
    } finally {
      // Stops (destroys) the body when the consumer gives up early, e.g. on too_large.
      await source.return?.();
    }
  }

  sha256(): string {
    return this.hash.digest('hex');
  }

  private add(chunk: Uint8Array): void {
    this.check(this.size + chunk.byteLength);
    this.size += chunk.byteLength;
    this.hash.update(chunk);
  }

  private check(size: number): void {
    if (this.maxBytes !== undefined && size > this.maxBytes) {
      this.bodyError = new ObjectStoreError('too_large', `The body is larger than the limit of ${this.maxBytes} bytes`, this.key);
      throw this.bodyError;
    }
  }
}

function toBytes(raw: unknown): Uint8Array {
  if (raw instanceof Uint8Array) return raw;
  if (typeof raw === 'string') return Buffer.from(raw);
  throw new TypeError('A put body stream must yield bytes (Buffer/Uint8Array) or strings');
}

/** Reads a whole stream into one buffer (getBytes: records and reports, never model files). */
export async function readAll(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

export function checkRange(start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`Invalid byte range [${start}, ${end}): need integers with 0 <= start <= end`);
  }
}
