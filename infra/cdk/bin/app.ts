/**
 * The CDK app: `npm --prefix infra/cdk run deploy -- -c runnerImageTag=TAG`
 * (see infra/README.md). Bundles the API and the queue-depth function with
 * esbuild first (infra/bundle), so the Lambda assets are exactly what the
 * tests run.
 */
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { bundle } from '../../bundle/api-bundle.ts';
import { ClafusionStack } from '../lib/clafusion-stack.ts';

const app = new App();
const context = (name: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(name);
  return value === undefined || value === null || value === '' ? undefined : String(value);
};

const runnerImageTag = context('runnerImageTag');
if (!runnerImageTag) {
  console.error('Pass the GPU runner image tag: -c runnerImageTag=TAG (any tag for the first deploy, which runs no runner; see infra/README.md)');
  process.exit(2);
}
const out = join(app.outdir, '.bundles');
const [api, queueDepth] = await Promise.all([bundle('lambda', join(out, 'api')), bundle('queue-depth', join(out, 'queue-depth'))]);

new ClafusionStack(app, context('stackName') ?? 'Clafusion', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  apiCode: lambda.Code.fromAsset(api.dir),
  queueDepthCode: lambda.Code.fromAsset(queueDepth.dir),
  runnerImageTag,
  ...(context('maxRunners') ? { maxRunners: Number(context('maxRunners')) } : {}),
  ...(context('runnerInstanceType') ? { runnerInstanceType: context('runnerInstanceType') } : {}),
  ...(context('retentionDays') ? { retentionDays: Number(context('retentionDays')) } : {}),
});
