/**
 * Short-lived signed links to a job's report page and outputs, so a report
 * can be opened in a browser tab or shared without an API key. A link
 * names its job, target and tenant and expires after N minutes; it is an
 * HMAC-SHA256 over all four with a secret every API instance shares (made
 * once in the store, create-only). Checked in constant time; a link for
 * one job opens nothing of another.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../errors.ts';
import { readJson, toJson } from '@clafusion/contract/job-log';
import { type ObjectStore, ObjectStoreError } from '@clafusion/contract/ports';

const SECRET_KEY = 'system/link-secret.json';

export type LinkTarget = 'report' | 'fused.safetensors' | 'report.json' | 'report.html';

const b64url = (buf: Buffer) => buf.toString('base64url');

export class LinkSigner {
  private secret: Promise<Buffer> | null = null;

  constructor(private readonly store: ObjectStore) {}

  private key(): Promise<Buffer> {
    this.secret ??= (async () => {
      const fresh = { secret: randomBytes(32).toString('base64') };
      try {
        await this.store.put(SECRET_KEY, toJson(fresh), { ifAbsent: true, contentType: 'application/json' });
      } catch (err) {
        if (!(err instanceof ObjectStoreError && err.code === 'exists')) throw err;
      }
      const stored = await readJson<{ secret: string }>(this.store, SECRET_KEY);
      return Buffer.from(stored!.secret, 'base64');
    })().catch((err: unknown) => {
      this.secret = null;
      throw err;
    });
    return this.secret;
  }

  private async mac(tenant: string, jobId: string, target: LinkTarget, expires: number): Promise<Buffer> {
    return createHmac('sha256', await this.key()).update(`${tenant}\n${jobId}\n${target}\n${expires}`).digest();
  }

  /** The `link` query value for `target` of job `jobId`, valid until `expires` (seconds since the epoch). */
  async sign(tenant: string, jobId: string, target: LinkTarget, expires: number): Promise<string> {
    return `${expires}.${b64url(Buffer.from(tenant))}.${b64url(await this.mac(tenant, jobId, target, expires))}`;
  }

  /** The tenant the link was made for; 401 when it is malformed, for another job or target, or expired. */
  async verify(token: string, jobId: string, target: LinkTarget, now = Date.now()): Promise<string> {
    const refused = (why: string) => new ApiError('unauthorized', `This link ${why}; create a new one with POST /v1/fusions/{id}/links`, {});
    const [expiresText, tenantText, macText] = token.split('.');
    const expires = Number(expiresText);
    if (!Number.isSafeInteger(expires) || !tenantText || !macText) throw refused('is not valid');
    const tenant = Buffer.from(tenantText, 'base64url').toString();
    const expected = await this.mac(tenant, jobId, target, expires);
    const given = Buffer.from(macText, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused('is not valid for this job');
    if (now / 1000 > expires) throw refused('has expired');
    return tenant;
  }
}
