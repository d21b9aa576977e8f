/**
 * The API as an AWS Lambda function (behind a function URL or API Gateway
 * HTTP API: payload format 2.0). Same app, same services as `npm start`,
 * but no in-process runner: a Lambda has no durable disk and is frozen
 * between requests, so jobs go to Redis (BullMQ) and GPU runners take them.
 *
 * `handler` builds everything once per cold start from the environment
 * (the settings module's variables, see config.ts). When
 * `REDIS_AUTH_SECRET_ARN` is set, the Redis AUTH token is read from Secrets
 * Manager through the AWS Parameters and Secrets Lambda extension (a
 * localhost HTTP endpoint, so the bundle needs no Secrets Manager SDK) and
 * put into `REDIS_URL`; the token never sits in the function's environment.
 *
 * `createLambdaHandler(config)` is the same handler on a given configuration;
 * tests use it with the local folder store.
 */
import { handle } from 'hono/aws-lambda';
import { createQueue, createStore, createTickQueue } from './adapters.ts';
import { type Config, configFromEnv } from './config.ts';
import { createApp } from './http/app.ts';
import { readSecretViaExtension, redisUrlWithToken } from './lambda-secrets.ts';
import { createServices } from './services.ts';

export { readSecretViaExtension, redisUrlWithToken };

export type LambdaHandler = ReturnType<typeof handle>;
type Env = Record<string, string | undefined>;

export async function createLambdaHandler(config: Config): Promise<LambdaHandler> {
  const store = await createStore(config);
  const queue = await createQueue(config);
  // publicUrl stays null unless PUBLIC_URL is set: links are then made from
  // the request's own origin (the function URL's domain), which the stack
  // cannot pass in without a dependency cycle.
  // Schedules created here are armed on Redis; long-lived API instances (npm start) consume their ticks.
  const services = createServices(store, queue, config, await createTickQueue(config));
  return handle(createApp(services));
}

/** The configuration a deployed function runs with: S3 and Redis are required. */
export async function lambdaConfigFromEnv(env: Env = process.env): Promise<Config> {
  let effective = env;
  const secretArn = env.REDIS_AUTH_SECRET_ARN?.trim();
  if (secretArn && env.REDIS_URL) {
    effective = { ...env, REDIS_URL: redisUrlWithToken(env.REDIS_URL, await readSecretViaExtension(secretArn, env)) };
  }
  const config = configFromEnv(effective);
  if (!config.s3 || !config.redis) {
    throw new Error('The Lambda API needs S3_BUCKET and REDIS_URL: a function has no durable disk for the folder store and runs no in-process runner');
  }
  // Jobs are run by the GPU runners, never inside a request.
  return { ...config, inProcessRunners: 0 };
}

let ready: Promise<LambdaHandler> | undefined;

export const handler: LambdaHandler = async (event, context) => {
  ready ??= lambdaConfigFromEnv().then(createLambdaHandler);
  // A failed cold start is retried on the next request instead of being cached.
  const app = await ready.catch((err: unknown) => {
    ready = undefined;
    throw err;
  });
  return app(event, context);
};
