/**
 * The API's Lambda entry (api/src/lambda.ts), invoked the way the Lambda
 * runtime does for a function URL: a payload-2.0 event and a context, on the
 * local folder store. Checks /healthz, that requests without a key get the
 * error envelope, and an authenticated upload whose bytes arrive base64-encoded
 * (binary bodies are what an adapter most easily breaks). Also checks the
 * deployed configuration's rules: S3 and Redis required, and the Redis AUTH
 * token read through the Parameters and Secrets extension's HTTP endpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderStoreRoot } from '../../api/src/adapters.ts';
import { createApiKey } from '../../api/src/auth/api-keys.ts';
import { configFromEnv } from '../../api/src/config.ts';
import type { CreateFileResult, FileObject, ListPage, FusionJob } from '../../api/contract/src/index.ts';
import { type LambdaHandler, createLambdaHandler, lambdaConfigFromEnv, redisUrlWithToken } from '../../api/src/lambda.ts';
import { FolderStore } from '../../api/src/storage/index.ts';
import { ARCH_B, modelBytes } from '../../test/support/fixtures.ts';
import { DOMAIN, type EventInit, functionUrlEvent, lambdaContext } from './support/function-url-event.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-lambda-'));
let handler: LambdaHandler;
let token: string;

async function invoke(init: EventInit) {
  const result = await handler(functionUrlEvent(init), lambdaContext());
  const text = result.isBase64Encoded ? Buffer.from(result.body, 'base64').toString('utf8') : result.body;
  return { status: result.statusCode, headers: result.headers ?? {}, json: text ? (JSON.parse(text) as unknown) : null };
}
const auth = () => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  const config = configFromEnv({ DATA_DIR: dir });
  handler = await createLambdaHandler(config);
  token = (await createApiKey(new FolderStore({ root: folderStoreRoot(config) }), 'acme', 'lambda test')).token;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the API as a Lambda behind a function URL', () => {
  it('answers /healthz', async () => {
    const res = await invoke({ path: '/healthz' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('refuses a request without an API key with the error envelope', async () => {
    const res = await invoke({ path: '/v1/fusions' });
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('runs an authenticated upload: create, binary PUT through the function, complete, list', async () => {
    const bytes = modelBytes(ARCH_B, 2);
    const created = await invoke({ method: 'POST', path: '/v1/files', headers: auth(), json: { name: 'b.safetensors', purpose: 'model', size: bytes.length } });
    expect(created.status).toBe(200);
    const { file, upload } = created.json as CreateFileResult;
    // Links are made from the request's origin: the function URL's own domain.
    expect(upload.url).toBe(`https://${DOMAIN}/v1/files/${file.id}/content`);
    expect(upload.via_api).toBe(true);

    const put = await invoke({ method: 'PUT', path: `/v1/files/${file.id}/content`, headers: { ...upload.headers, ...auth() }, bytes });
    expect(put.status).toBeLessThan(300);

    const done = await invoke({ method: 'POST', path: `/v1/files/${file.id}/complete`, headers: auth() });
    expect(done.status).toBe(200);
    expect(done.json as FileObject).toMatchObject({ id: file.id, status: 'ready', size: bytes.length, model: { arch: ARCH_B.family === 'mlp' ? { family: 'mlp', hidden: ARCH_B.hidden } : {} } });

    const fusions = await invoke({ path: '/v1/fusions', query: 'limit=5', headers: auth() });
    expect(fusions.status).toBe(200);
    expect((fusions.json as ListPage<FusionJob>).data).toEqual([]);
  });

  it('keeps tenants apart: another tenant cannot see the file', async () => {
    const other = (await createApiKey(new FolderStore({ root: folderStoreRoot(configFromEnv({ DATA_DIR: dir })) }), 'globex')).token;
    const created = await invoke({ method: 'POST', path: '/v1/files', headers: auth(), json: { name: 'x.safetensors', purpose: 'model', size: 100 } });
    const { file } = created.json as CreateFileResult;
    const res = await invoke({ path: `/v1/files/${file.id}`, headers: { authorization: `Bearer ${other}` } });
    expect(res.status).toBe(404);
  });
});

describe('the deployed configuration', () => {
  it('requires S3 and Redis', async () => {
    await expect(lambdaConfigFromEnv({ DATA_DIR: dir })).rejects.toThrow(/needs S3_BUCKET and REDIS_URL/);
    await expect(lambdaConfigFromEnv({ S3_BUCKET: 'b', DATA_DIR: dir })).rejects.toThrow(/needs S3_BUCKET and REDIS_URL/);
  });

  it('runs no in-process runner', async () => {
    const config = await lambdaConfigFromEnv({ S3_BUCKET: 'clafusion-data', REDIS_URL: 'rediss://cache.internal:6379' });
    expect(config.inProcessRunners).toBe(0);
    expect(config.s3).toMatchObject({ bucket: 'clafusion-data', endpoint: null, forcePathStyle: false });
  });

  it('puts the Redis AUTH token from Secrets Manager (through the extension) into REDIS_URL', async () => {
    const seen: { url?: string; token?: string } = {};
    const server: Server = createServer((req, res) => {
      seen.url = req.url;
      seen.token = req.headers['x-aws-parameters-secrets-token'] as string;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ Name: 'clafusion/redis-auth', SecretString: 'Tok3nWithDigits0123456789abcdef' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:clafusion/redis-auth-AbCdEf';
      const config = await lambdaConfigFromEnv({
        S3_BUCKET: 'clafusion-data',
        REDIS_URL: 'rediss://master.clafusion.abc123.euw1.cache.amazonaws.com:6379',
        REDIS_AUTH_SECRET_ARN: arn,
        AWS_SESSION_TOKEN: 'session-token',
        PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String((server.address() as AddressInfo).port),
      });
      expect(config.redis?.url).toBe('rediss://:Tok3nWithDigits0123456789abcdef@master.clafusion.abc123.euw1.cache.amazonaws.com:6379');
      expect(seen).toEqual({ url: `/secretsmanager/get?secretId=${encodeURIComponent(arn)}`, token: 'session-token' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('replaces any user or password already in REDIS_URL', () => {
    expect(redisUrlWithToken('redis://old:pw@redis:6379/0', 'abc')).toBe('redis://:abc@redis:6379/0');
  });
});
