/**
 * Secrets for Lambda functions without the Secrets Manager SDK: the AWS
 * Parameters and Secrets Lambda extension serves them on localhost (and
 * caches them), so a bundle stays small and a cold start makes one local
 * HTTP call. Its own module so the queue-depth function can use it without
 * pulling in the API app.
 */
type Env = Record<string, string | undefined>;

/** `REDIS_URL` with the token as its password (the default user), for ElastiCache with AUTH. */
export function redisUrlWithToken(redisUrl: string, token: string): string {
  const url = new URL(redisUrl);
  url.username = '';
  url.password = token;
  return url.href;
}

/** A secret's string through the Parameters and Secrets extension (it caches, so cold starts stay cheap). */
export async function readSecretViaExtension(secretId: string, env: Env = process.env): Promise<string> {
  const port = env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? '2773';
  const url = `http://localhost:${port}/secretsmanager/get?secretId=${encodeURIComponent(secretId)}`;
  const response = await fetch(url, { headers: { 'X-Aws-Parameters-Secrets-Token': env.AWS_SESSION_TOKEN ?? '' } });
  if (!response.ok) throw new Error(`reading secret ${secretId} through the Lambda extension failed: HTTP ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { SecretString?: string };
  if (typeof body.SecretString !== 'string' || body.SecretString === '') throw new Error(`secret ${secretId} has no SecretString`);
  return body.SecretString;
}

