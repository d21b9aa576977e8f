import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  ObjectStoreError,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from '@clafusion/contract/ports';
import { bodyProblem, checkRange, MeteredBody, readAll, VerifyingStream } from './body.ts';
import { KeyedLock } from './keyed-lock.ts';
import { assertValidContentType, assertValidKey, assertValidPrefix } from './keys.ts';

/**
 * How `put(…, { ifAbsent: true })` is made atomic:
 * - `native`: the server honours `If-None-Match: *` on PutObject and
 *   CopyObject (AWS S3 since 2024, MinIO, recent Ceph). Safe across processes.
 * - `in-process`: for servers that ignore the header (s3rver does: it only
 *   supports If-None-Match on GET). HEAD, then PUT, with a per-key lock in
 *   this process. Safe among writers sharing this store instance, NOT across
 *   processes or machines: run a single API process against such a server.
 * - `auto` (default): probe once, on the first ifAbsent put, with a scratch
 *   object under `<prefix>.probe/`, and use `native` if the server refused
 *   the second conditional write with 412. Bodies over one part are placed
 *   with CopyObject, and some servers honour the header on PUT but not on a
 *   copy (Ceph radosgw 16 "Pacific" overwrites): the first such put probes
 *   the copy too, and if the server ignores it there, those large ifAbsent
 *   puts fall back to the in-process check (small ones stay native).
 */
export type ConditionalWrites = 'auto' | 'native' | 'in-process';

export interface S3StoreOptions {
  bucket: string;
  /** Prepended to every key, e.g. `clafusion/`; '' or ending with '/'. */
  prefix?: string;
  /** An S3-compatible endpoint (MinIO, Ceph, s3rver); omit for AWS. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Path-style URLs (`endpoint/bucket/key`), which most non-AWS servers need. */
  forcePathStyle?: boolean;
  /** Attempts per request, retried with the SDK's standard backoff on throttling, 5xx and network errors. Default 5. */
  maxAttempts?: number;
  /** Bodies up to this size are sent with one PutObject; larger ones as a multipart upload. Default 8 MiB, at least 5 MiB. */
  partSizeBytes?: number;
  conditionalWrites?: ConditionalWrites;
  /**
   * A request whose connection carries no bytes either way for this long
   * fails (and is retried like a reset): a hung server or a black-holed
   * connection must not hang a runner or an API request forever, which the
   * SDK's default (no timeout) allows. An idle timeout, not a total one, so
   * big transfers that keep moving are fine. Default 120 s; ignored when
   * clientConfig brings its own requestHandler.
   */
  socketTimeoutMs?: number;
  /** Extra client settings (timeouts, a custom request handler); the checksum settings below always win. */
  clientConfig?: S3ClientConfig;
}

const MIN_PART = 5 * 1024 * 1024;
/** CopyObject's limit; the multipart path copies the staged upload into place. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;
const MAX_LIST_LIMIT = 1000;
const SHA256_META = 'sha256';
/** A random id per put(), stored with the object: how a retried create-only put recognises its own write (ownRetriedWrite). */
const WRITE_ID_META = 'write-id';
/**
 * Whole downloads (getBytes, getRange) made before giving up on a body that
 * keeps arriving cut short or damaged. The SDK retries a request that fails
 * before its response headers, but not a body that dies afterwards.
 */
const READ_ATTEMPTS = 4;

/**
 * The S3 object store. Keys map to `<prefix><key>` in one bucket; the store
 * keeps its own scratch objects under `<prefix>.staging/` and
 * `<prefix>.probe/`, names no valid key can have (keys start with a letter or
 * digit), and list() never shows them. A lifecycle rule that expires
 * `<prefix>.staging/` after a day cleans up after crashed uploads.
 *
 * Atomicity and metadata: the sha256 must be in the object's metadata, which
 * S3 only takes when an object is created, but a streamed body's hash is
 * known only at its end. So a body that fits in one part is buffered (one
 * part is what lib-storage buffers anyway), hashed, and sent in one PutObject
 * with its sha256. A larger body is streamed as a multipart upload to a
 * staging key, then copied server-side to its key with the sha256 (a copy
 * creates the object in one step, so readers never see it without its
 * metadata), and the staging object is deleted. Objects over 5 GiB, the
 * CopyObject limit, are refused with `too_large`.
 */
export class S3Store implements ObjectStore {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly conditional: ConditionalWrites;
  private probe: Promise<'native' | 'in-process'> | undefined;
  private copyProbe: Promise<boolean> | undefined;
  private readonly locks = new KeyedLock();

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    if (this.prefix !== '') assertValidPrefix(this.prefix);
    if (this.prefix !== '' && !this.prefix.endsWith('/')) throw new TypeError(`The S3 key prefix must end with "/", got ${JSON.stringify(this.prefix)}`);
    this.partSize = options.partSizeBytes ?? 8 * 1024 * 1024;
    if (!Number.isSafeInteger(this.partSize) || this.partSize < MIN_PART) throw new RangeError(`partSizeBytes must be at least ${MIN_PART}`);
    this.conditional = options.conditionalWrites ?? 'auto';
    this.client = new S3Client({
      ...options.clientConfig,
      endpoint: options.endpoint,
      region: options.region ?? 'us-east-1',
      credentials: options.credentials,
      forcePathStyle: options.forcePathStyle,
      maxAttempts: options.maxAttempts ?? 5,
      retryMode: 'standard',
      requestHandler: options.clientConfig?.requestHandler ?? { connectionTimeout: 10_000, socketTimeout: options.socketTimeoutMs ?? 120_000 },
      // Required: with the SDK defaults a streamed PutObject
      // is stored with its aws-chunked framing on some servers (silently corrupt),
      // and presigned PUT URLs carry the CRC of an empty body.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Creates the bucket if it does not exist (local stacks; in the cloud the IaC makes it). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      if (httpStatus(e) !== 404) throw mapError(e, this.bucket);
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket })).catch(async (e2: unknown) => {
        if (errorName(e2) === 'BucketAlreadyOwnedByYou') return;
        // Processes starting together (an API and its runners) race to create it;
        // servers that do not track owners (s3rver) tell the losers "already
        // exists". Ours if we can use it; on AWS someone else's stays a 403 here.
        if (errorName(e2) === 'BucketAlreadyExists') {
          await this.client.send(new HeadBucketCommand({ Bucket: this.bucket })).catch(() => {
            throw mapError(e2, this.bucket);
          });
          return;
        }
        throw mapError(e2, this.bucket);
      });
    }
  }

  async put(key: string, body: Uint8Array | Readable, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    assertValidContentType(options.contentType);
    const meter = new MeteredBody(body, key, options.maxBytes);
    const writeId = randomUUID();
    try {
      if (!options.ifAbsent) return await this.write(key, meter, options.contentType, false, writeId);
      if ((await this.conditionalMode()) === 'native') {
        try {
          return await this.write(key, meter, options.contentType, true, writeId);
        } catch (e) {
          const own = await this.ownRetriedWrite(e, key, meter, writeId);
          if (own) return own;
          throw e;
        }
      }
      return await this.locks.run(key, async () => {
        if ((await this.head(key)) !== null) throw new ObjectStoreError('exists', `Object already exists: ${key}`, key);
        return this.write(key, meter, options.contentType, false, writeId);
      });
    } catch (e) {
      if (meter.bodyError !== undefined) throw meter.bodyError;
      if (!(body instanceof Uint8Array)) body.destroy();
      throw mapError(e, key, 'put');
    }
  }

  /**
   * The object as a stream that errors (never ends cleanly) when the body
   * arrives short of its Content-Length or with a sha256 other than the one
   * recorded at put: a reader can only mistake a complete, intact download
   * for the object. (Node's http client already errors with `aborted` on a
   * body cut short of its Content-Length; the check here also covers
   * damaged bytes and servers that close early without one.) Not retried:
   * part of the body may already have been read by the caller.
   */
  async get(key: string): Promise<Readable> {
    assertValidKey(key);
    const out = await this.getObject(key);
    // In Node the SDK's body is an http.IncomingMessage (a Readable).
    const body = out.Body as Readable;
    const verify = new VerifyingStream(out.ContentLength, out.Metadata?.[SHA256_META], (problem) => damaged(key, problem));
    body.once('error', (e: Error) => verify.destroy(damaged(key, e.message)));
    // A body that fails before the caller starts reading must not crash the
    // process as an unhandled 'error': the caller still gets the error, from
    // the stream's errored state, when it reads.
    verify.on('error', () => {});
    verify.once('close', () => {
      if (!body.readableEnded) body.destroy();
    });
    body.pipe(verify);
    return verify;
  }

  /**
   * The whole object, checked: its length against Content-Length and its
   * sha256 against the one recorded at put (when the object has one, as
   * everything this store wrote does). A body that fails or does not check
   * out is downloaded again, up to READ_ATTEMPTS times, then `unavailable`.
   */
  async getBytes(key: string): Promise<Uint8Array> {
    assertValidKey(key);
    return this.readChecked(key, undefined);
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    assertValidKey(key);
    checkRange(start, end);
    if (start === end) {
      if ((await this.head(key)) === null) throw new ObjectStoreError('not_found', `No such object: ${key}`, key);
      return new Uint8Array(0);
    }
    return this.readChecked(key, `bytes=${start}-${end - 1}`);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertValidKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      return {
        key,
        size: out.ContentLength ?? 0,
        sha256: out.Metadata?.[SHA256_META],
        contentType: out.ContentType,
        lastModified: out.LastModified ?? new Date(0),
      };
    } catch (e) {
      if (httpStatus(e) === 404) return null;
      throw mapError(e, key);
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
    } catch (e) {
      if (httpStatus(e) === 404) return;
      throw mapError(e, key);
    }
  }

  async list(prefix: string, options: { after?: string; limit?: number } = {}): Promise<ListPage> {
    assertValidPrefix(prefix);
    const limit = options.limit ?? MAX_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new RangeError(`list limit must be an integer from 1 to ${MAX_LIST_LIMIT}, got ${limit}`);
    }
    try {
      // StartAfter (not continuation tokens) so that `next` is a plain key,
      // the same kind of cursor the folder store hands out.
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + prefix,
          StartAfter: options.after !== undefined ? this.prefix + options.after : undefined,
          MaxKeys: limit,
        }),
      );
      const contents = out.Contents ?? [];
      const objects: ObjectInfo[] = [];
      for (const item of contents) {
        const key = (item.Key ?? '').slice(this.prefix.length);
        // The store's own scratch objects (`.staging/`, `.probe/`) are not keys.
        if (key.startsWith('.')) continue;
        objects.push({ key, size: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0) });
      }
      const last = contents.at(-1)?.Key;
      return { objects, next: out.IsTruncated && last !== undefined ? last.slice(this.prefix.length) : undefined };
    } catch (e) {
      throw mapError(e, prefix);
    }
  }

  async presignPut(key: string, options: { expiresInSeconds: number; contentLength?: number }): Promise<string> {
    assertValidKey(key);
    checkExpiry(options.expiresInSeconds);
    // The signature covers method, bucket, key and expiry (and the length when
    // given), so the URL can upload this one object only, until it expires.
    return getSignedUrl(
      this.client,
      new PutObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), ContentLength: options.contentLength }),
      { expiresIn: options.expiresInSeconds },
    );
  }

  async presignGet(key: string, options: { expiresInSeconds: number; contentDisposition?: string }): Promise<string> {
    assertValidKey(key);
    checkExpiry(options.expiresInSeconds);
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), ResponseContentDisposition: options.contentDisposition });
    return getSignedUrl(this.client, command, {
      expiresIn: options.expiresInSeconds,
    });
  }

  /** The conditional-write mode in use (after probing the server when `auto`). */
  async conditionalMode(): Promise<'native' | 'in-process'> {
    if (this.conditional !== 'auto') return this.conditional;
    this.probe ??= this.probeConditionalWrites().catch((e: unknown) => {
      this.probe = undefined; // try again next time (the server may have been down)
      throw e;
    });
    return this.probe;
  }

  close(): void {
    this.client.destroy();
  }

  private fullKey(key: string): string {
    return this.prefix + key;
  }

  private async getObject(key: string, range?: string): Promise<GetObjectCommandOutput> {
    try {
      return await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), Range: range }));
    } catch (e) {
      throw mapError(e, key);
    }
  }

  /** getBytes (no range) and getRange: download, check, and download again while the body fails or does not check out. */
  private async readChecked(key: string, range: string | undefined): Promise<Uint8Array> {
    let problem = '';
    for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(50 * 2 ** (attempt - 2));
      let out: GetObjectCommandOutput;
      try {
        out = await this.getObject(key, range);
      } catch (e) {
        // 416: the range starts at or past the end of an object that exists.
        if (range !== undefined && e instanceof ObjectStoreError && (httpStatus(e.cause) === 416 || errorName(e.cause) === 'InvalidRange')) {
          return new Uint8Array(0);
        }
        throw e;
      }
      let bytes: Uint8Array;
      try {
        bytes = await readAll(out.Body as Readable);
      } catch (e) {
        problem = `the body failed: ${(e as Error).message}`;
        continue;
      }
      // A range has no whole-object hash to check; its length must still match.
      const expectedSha = range === undefined ? out.Metadata?.[SHA256_META] : undefined;
      const found = bodyProblem(bytes.byteLength, () => createHash('sha256').update(bytes).digest('hex'), out.ContentLength, expectedSha);
      if (found === null) return bytes;
      problem = found;
    }
    throw damaged(key, `${problem} (${READ_ATTEMPTS} attempts)`);
  }

  /**
   * A create-only write (`If-None-Match: *`) whose first attempt the server
   * applied but whose answer was lost (a reset, a timeout) is retried by the
   * SDK, and the retry gets 412 — for our own object. Callers rely on
   * `exists` meaning "someone else created it first": the job log then
   * re-reads and, seeing its own event already there, would either append it
   * twice or decide it no longer applies (a `running` event "lost" that way
   * leaves the job running on no runner). So when a 412 came on a retry
   * (attempts > 1) we HEAD the key: the object is ours only if it carries
   * this put's random write id (x-amz-meta-write-id, sent with every put),
   * and then put succeeds. Identical bytes are not enough: a second create
   * of the same bytes over an existing object (a caller's own retry, a
   * test) whose first 412 was lost must still be `exists`. A 412 on the
   * first attempt is always `exists`: nothing of ours can be there. If the
   * HEAD itself fails, the outcome is unknown: `unavailable`, never a wrong
   * `exists`.
   */
  private async ownRetriedWrite(e: unknown, key: string, meter: MeteredBody, writeId: string): Promise<PutResult | null> {
    if (httpStatus(e) !== 412) return null;
    const attempts = (e as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
    if (attempts < 2) return null;
    let metadata: Record<string, string> | undefined;
    try {
      metadata = (await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }))).Metadata;
    } catch (headError) {
      if (httpStatus(headError) === 404) return null;
      throw Object.assign(
        new ObjectStoreError('unavailable', `Could not tell whether a retried create of ${key} was ours: ${(headError as Error).message}`, key),
        { cause: headError },
      );
    }
    if (metadata?.[WRITE_ID_META] !== writeId) return null;
    return { key, size: meter.size, sha256: meter.sha256() };
  }

  private async write(key: string, meter: MeteredBody, contentType: string | undefined, ifNoneMatch: boolean, writeId: string): Promise<PutResult> {
    const chunks = meter.chunks();
    const first: Uint8Array[] = [];
    let buffered = 0;
    let ended = false;
    while (buffered <= this.partSize) {
      const next = await chunks.next();
      if (next.done) {
        ended = true;
        break;
      }
      first.push(next.value);
      buffered += next.value.byteLength;
    }
    const condition = ifNoneMatch ? { IfNoneMatch: '*' } : {};

    if (ended) {
      const sha256 = meter.sha256();
      const body = Buffer.concat(first);
      const md5 = createHash('md5').update(body).digest('base64');
      await this.sendPut(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.fullKey(key),
          Body: body,
          ContentLength: body.length,
          // The server (AWS, radosgw) refuses with BadDigest a body that reached it
          // damaged, so a broken upload can never be stored as the object. (s3rver
          // ignores it; there the sha256 checks on read catch such damage.)
          ContentMD5: md5,
          ContentType: contentType,
          Metadata: { [SHA256_META]: sha256, [WRITE_ID_META]: writeId },
          ...condition,
        }),
      );
      return { key, size: body.length, sha256 };
    }

    const staging = `${this.prefix}.staging/${randomUUID()}`;
    const rest = async function* () {
      yield* first;
      yield* chunks;
    };
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: staging, Body: Readable.from(rest()) },
      partSize: this.partSize,
      queueSize: 2,
      // A failed upload aborts the multipart upload, so no parts are left billed.
      leavePartsOnError: false,
    });
    try {
      await upload.done();
      const sha256 = meter.sha256();
      if (meter.size > MAX_COPY_BYTES) {
        throw new ObjectStoreError('too_large', `Objects over 5 GiB are not supported by the S3 store (CopyObject limit)`, key);
      }
      const copy = () =>
        this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: this.fullKey(key),
            // URL-encoded per segment: servers decode it with decodeURI, which keeps %2F as is.
            CopySource: `${this.bucket}/${staging.split('/').map(encodeURIComponent).join('/')}`,
            MetadataDirective: 'REPLACE',
            ContentType: contentType,
            Metadata: { [SHA256_META]: sha256, [WRITE_ID_META]: writeId },
            ...condition,
          }),
        );
      if (ifNoneMatch && !(await this.copyHonoursIfNoneMatch())) {
        // The server would overwrite despite the header: check under the per-key
        // lock instead (atomic within this process only, like `in-process`).
        await this.locks.run(key, async () => {
          if ((await this.head(key)) !== null) throw new ObjectStoreError('exists', `Object already exists: ${key}`, key);
          await copy();
        });
      } else {
        await copy();
      }
      return { key, size: meter.size, sha256 };
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: staging })).catch(() => undefined);
    }
  }

  /** PutObject, sent again (up to 3 times in all) when the server says the body arrived damaged (BadDigest). */
  private async sendPut(command: PutObjectCommand): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(command);
        return;
      } catch (e) {
        if (errorName(e) !== 'BadDigest' || attempt >= 3) throw e;
      }
    }
  }

  private async probeConditionalWrites(): Promise<'native' | 'in-process'> {
    const key = `${this.prefix}.probe/${randomUUID()}`;
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: 'probe' }));
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: 'probe', IfNoneMatch: '*' }));
      return 'in-process';
    } catch (e) {
      if (httpStatus(e) === 412) return 'native';
      if (httpStatus(e) === 501 || errorName(e) === 'NotImplemented') return 'in-process';
      throw mapError(e, key);
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined);
    }
  }

  /**
   * Whether the server refuses a CopyObject onto an existing key with
   * If-None-Match: '*' (AWS does; Ceph radosgw 16 ignores it and overwrites).
   * Probed once, when native mode first places a multipart-sized body.
   */
  private copyHonoursIfNoneMatch(): Promise<boolean> {
    if (this.conditional !== 'auto') return Promise.resolve(true);
    this.copyProbe ??= this.probeConditionalCopy().catch((e: unknown) => {
      this.copyProbe = undefined;
      throw e;
    });
    return this.copyProbe;
  }

  private async probeConditionalCopy(): Promise<boolean> {
    const key = `${this.prefix}.probe/${randomUUID()}`;
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: 'probe' }));
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: key,
          CopySource: `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'REPLACE',
          IfNoneMatch: '*',
        }),
      );
      return false;
    } catch (e) {
      if (httpStatus(e) === 412) return true;
      if (httpStatus(e) === 501 || errorName(e) === 'NotImplemented') return false;
      throw mapError(e, key);
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined);
    }
  }
}

function damaged(key: string, problem: string): ObjectStoreError {
  return new ObjectStoreError('unavailable', `Could not read ${key} intact: ${problem}`, key);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function checkExpiry(seconds: number): void {
  // SigV4 presigned URLs are valid for at most 7 days.
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 604_800) {
    throw new RangeError(`expiresInSeconds must be an integer from 1 to 604800, got ${seconds}`);
  }
}

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function errorName(e: unknown): string | undefined {
  return (e as { name?: string } | null)?.name;
}

/**
 * One table from S3 errors to ObjectStoreError codes. Anything the SDK could
 * not finish after its retries (throttling, 5xx, network, credentials) is
 * `unavailable`: the caller cannot fix it by changing the request.
 */
function mapError(e: unknown, key: string, operation?: 'put'): Error {
  if (e instanceof ObjectStoreError || e instanceof TypeError || e instanceof RangeError) return e;
  const status = httpStatus(e);
  const name = errorName(e);
  const message = (e as Error | null)?.message ?? String(e);
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound') return new ObjectStoreError('not_found', `No such object: ${key}`, key);
  // 412: If-None-Match failed. 409 ConditionalRequestConflict: AWS's answer to
  // a conditional write racing another write to the same key, which won.
  if (operation === 'put' && (status === 412 || status === 409)) return new ObjectStoreError('exists', `Object already exists: ${key}`, key);
  if (name === 'EntityTooLarge') return new ObjectStoreError('too_large', `S3 refused the object as too large: ${key}`, key);
  return Object.assign(new ObjectStoreError('unavailable', `S3 request for ${key} failed (${name ?? status ?? 'error'}): ${message}`, key), { cause: e });
}
