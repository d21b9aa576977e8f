import { createHash, type Hash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { ObjectStoreError } from '@clafusion/contract/ports';

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

  private digest: string | undefined;

  /** The hex sha256 of everything read so far; call once the body has ended (the value is kept). */
  sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
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

/**
 * What is wrong with a downloaded body, or null when it is intact: its length
 * must equal the response's Content-Length (when given) and its sha256 the
 * object's recorded sha256 (when there is one).
 */
export function bodyProblem(size: number, sha256: () => string, expectedSize: number | undefined, expectedSha256: string | undefined): string | null {
  if (expectedSize !== undefined && size !== expectedSize) return `got ${size} of ${expectedSize} bytes`;
  if (expectedSha256 !== undefined) {
    const actual = sha256();
    if (actual !== expectedSha256) return `sha256 ${actual} does not match the stored ${expectedSha256}`;
  }
  return null;
}

/**
 * Passes a downloaded body through, counting and hashing it, and fails (an
 * error instead of a clean end) when it ends short of `expectedSize` or its
 * sha256 differs from `expectedSha256`: a reader streaming an object never
 * mistakes a cut or damaged download for the whole object.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private size = 0;

  constructor(
    private readonly expectedSize: number | undefined,
    private readonly expectedSha256: string | undefined,
    private readonly fail: (problem: string) => Error,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.expectedSha256 !== undefined) this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const problem = bodyProblem(this.size, () => this.hash.digest('hex'), this.expectedSize, this.expectedSha256);
    callback(problem === null ? null : this.fail(problem));
  }
}
