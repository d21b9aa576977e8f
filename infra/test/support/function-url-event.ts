/**
 * Lambda function URL events (payload format 2.0) as AWS sends them for
 * `authType: NONE`: the shape of a real invocation, with the headers curl
 * sends, the account id "anonymous" and the body base64-encoded when binary.
 */
import { randomUUID } from 'node:crypto';
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';

/** Payload format 2.0 (function URLs, HTTP APIs); hono exports it only inside its LambdaEvent union. */
export type APIGatewayProxyEventV2 = Extract<LambdaEvent, { rawPath: string }>;

export const URL_ID = 'a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6';
export const DOMAIN = `${URL_ID}.lambda-url.eu-west-1.on.aws`;

export interface EventInit {
  method?: string;
  path: string;
  query?: string;
  headers?: Record<string, string>;
  json?: unknown;
  bytes?: Uint8Array;
}

export function functionUrlEvent(init: EventInit): APIGatewayProxyEventV2 {
  const method = init.method ?? 'GET';
  const now = new Date();
  const headers: Record<string, string> = {
    host: DOMAIN,
    'user-agent': 'curl/8.5.0',
    accept: '*/*',
    'x-amzn-tls-version': 'TLSv1.3',
    'x-amzn-tls-cipher-suite': 'TLS_AES_128_GCM_SHA256',
    'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomUUID().replaceAll('-', '').slice(0, 24)}`,
    'x-forwarded-proto': 'https',
    'x-forwarded-port': '443',
    'x-forwarded-for': '203.0.113.7',
    ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(init.bytes !== undefined ? { 'content-type': 'application/octet-stream', 'content-length': String(init.bytes.length) } : {}),
    ...init.headers,
  };
  const body = init.json !== undefined ? JSON.stringify(init.json) : init.bytes !== undefined ? Buffer.from(init.bytes).toString('base64') : null;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: init.path,
    rawQueryString: init.query ?? '',
    headers,
    ...(init.query ? { queryStringParameters: Object.fromEntries(new URLSearchParams(init.query)) } : {}),
    // A function URL with authType NONE sends no authorizer block and authentication null.
    requestContext: {
      accountId: 'anonymous',
      authentication: null,
      apiId: URL_ID,
      domainName: DOMAIN,
      domainPrefix: URL_ID,
      http: { method, path: init.path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'curl/8.5.0' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body,
    isBase64Encoded: init.bytes !== undefined,
  } as APIGatewayProxyEventV2;
}

/** What the Lambda runtime passes as the second argument. */
export function lambdaContext(): LambdaContext {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'clafusion-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:clafusion-api',
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/clafusion-api',
    logStreamName: '2026/11/28/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 29_000,
  };
}
