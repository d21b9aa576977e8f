/**
 * The cloud stack, synthesized offline (no AWS account, no Docker) with the
 * real Lambda bundles as assets, and checked resource by resource: storage
 * encryption and public access, lifecycle, least-privilege policies (no `*`
 * actions; the runners cannot read API keys), the GPU task definition and
 * the queue-depth scaling, log retention and the Redis secret.
 *
 * Built-in CloudFormation validation takes seconds per synth, so it is off
 * except in the last test, which synthesizes once with it on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../../bundle/api-bundle.ts';
import { ClafusionStack, type ClafusionStackProps, MAX_RUNNERS_LIMIT } from '../lib/clafusion-stack.ts';

type Json = Record<string, unknown>;
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

const scratch: string[] = [];
const tmp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
};
let code: { api: string; queueDepth: string };

function synth(overrides: Partial<ClafusionStackProps> = {}, validation = false) {
  const app = new App({ outdir: tmp('clafusion-cdk-'), builtinCloudFormationValidation: validation });
  const stack = new ClafusionStack(app, 'Clafusion', {
    env: { account: '123456789012', region: 'eu-west-1' },
    apiCode: lambda.Code.fromAsset(code.api),
    queueDepthCode: lambda.Code.fromAsset(code.queueDepth),
    runnerImageTag: 'v1.2.3',
    ...overrides,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

let template: Template;
let resources: Record<string, { Type: string; Properties: Json }>;

beforeAll(async () => {
  const out = tmp('clafusion-cdk-bundles-');
  const [api, queueDepth] = await Promise.all([bundle('lambda', join(out, 'api')), bundle('queue-depth', join(out, 'queue-depth'))]);
  code = { api: api.dir, queueDepth: queueDepth.dir };
  template = synth().template;
  resources = template.toJSON().Resources;
});

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const logicalIdOf = (type: string, pattern: RegExp) => {
  const ids = Object.keys(resources).filter((id) => resources[id].Type === type && pattern.test(id));
  expect(ids, `${type} ${pattern}`).toHaveLength(1);
  return ids[0];
};
/** Every statement of every AWS::IAM::Policy attached to the role with this logical id. */
function statementsForRole(roleId: string): Statement[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
const roleOfFunction = (fnId: string) => ((resources[fnId].Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'])[0];
const bucketId = () => logicalIdOf('AWS::S3::Bucket', /^Data/);
/** The object paths a statement's resources name in the data bucket ('' = the bucket itself). */
function bucketPaths(s: Statement): string[] {
  const list = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
  return list.map((r) => {
    const text = JSON.stringify(r);
    expect(text, 'statement on the data bucket').toContain(bucketId());
    const m = /"\/([^"]*)"\]/.exec(text);
    return m ? m[1] : '';
  });
}
const s3Statements = (statements: Statement[]) => statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));

describe('data bucket', () => {
  it('is KMS-encrypted with a bucket key, versioned, private and TLS-only', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() }, BucketKeyEnabled: true },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
    expect(template.findResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' })).not.toEqual({});
  });

  it('expires job data after the retention, the store scratch after a day, old versions after a week', () => {
    const rules = (resources[bucketId()].Properties.LifecycleConfiguration as { Rules: Json[] }).Rules;
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Id: 'expire-tenant-data', Prefix: 'tenants/', ExpirationInDays: 30, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: '.staging/', ExpirationInDays: 1 }),
        expect.objectContaining({ Prefix: '.probe/', ExpirationInDays: 1 }),
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, NoncurrentVersionExpiration: { NoncurrentDays: 7 } }),
      ]),
    );
    const custom = synth({ retentionDays: 7 }).template.toJSON().Resources as typeof resources;
    const customRules = (Object.values(custom).find((r) => r.Type === 'AWS::S3::Bucket')!.Properties.LifecycleConfiguration as { Rules: Json[] }).Rules;
    expect(customRules).toContainEqual(expect.objectContaining({ Prefix: 'tenants/', ExpirationInDays: 7 }));
  });
});

describe('least privilege', () => {
  it('gives the API role explicit S3 actions on the service prefixes, and no * action', () => {
    const statements = statementsForRole(roleOfFunction(logicalIdOf('AWS::Lambda::Function', /^Api[0-9A-F]/)));
    expect(statements.length).toBeGreaterThan(0);
    for (const s of statements) for (const a of actionsOf(s)) expect(a, `API role action ${a}`).not.toContain('*');

    const byPath = new Map<string, Set<string>>();
    for (const s of s3Statements(statements)) for (const p of bucketPaths(s)) for (const a of actionsOf(s)) byPath.set(p, (byPath.get(p) ?? new Set()).add(a));
    // Presigning a PUT or GET needs exactly these on the keys the URLs name; header reads are ranged GETs.
    expect([...byPath.get('tenants/*')!]).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject']));
    expect([...byPath.get('system/*')!]).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject']));
    expect([...byPath.get('')!]).toEqual(['s3:ListBucket']);
    // Deleting is limited to the active-job markers and the store's scratch objects.
    const deletable = [...byPath].filter(([, actions]) => actions.has('s3:DeleteObject')).map(([p]) => p);
    expect(deletable.sort()).toEqual(['.probe/*', '.staging/*', 'system/active-jobs/*']);
    expect([...byPath.keys()].every((p) => p === '' || /^(tenants|system|\.staging|\.probe)\//.test(p))).toBe(true);
  });

  it('lets the runners read inputs and write job folders, and not read API keys', () => {
    const taskDef = resources[logicalIdOf('AWS::ECS::TaskDefinition', /^RunnerTask/)].Properties;
    const taskRoleId = (taskDef.TaskRoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    const statements = statementsForRole(taskRoleId);
    for (const s of statements) for (const a of actionsOf(s)) expect(a, `runner action ${a}`).not.toContain('*');

    const grants = s3Statements(statements).flatMap((s) => bucketPaths(s).flatMap((p) => actionsOf(s).map((a) => `${a} ${p}`)));
    expect(grants).toEqual(
      expect.arrayContaining([
        's3:GetObject tenants/*/files/*',
        's3:GetObject tenants/*/fusions/*',
        's3:PutObject tenants/*/fusions/*',
        's3:DeleteObject system/active-jobs/*',
      ]),
    );
    expect(grants.filter((g) => / (tenants|system)\/\*$/.test(g) || g.includes('api-keys'))).toEqual([]);
    expect(grants.filter((g) => g.startsWith('s3:PutObject tenants/*/files'))).toEqual([]);
  });

  it('has no s3:* or kms:* anywhere in the identity policies', () => {
    const all = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement.flatMap(actionsOf));
    expect(all.filter((a) => a === '*' || a === 's3:*' || a === 'kms:*')).toEqual([]);
  });
});

describe('API function', () => {
  it('runs the bundle on Node 22 in the VPC, behind a function URL, with S3 and Redis settings', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Architectures: ['arm64'],
      Timeout: 30,
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }),
      Environment: {
        Variables: Match.objectLike({
          S3_BUCKET: { Ref: bucketId() },
          REDIS_URL: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['rediss://'])] }),
          REDIS_AUTH_SECRET_ARN: { Ref: logicalIdOf('AWS::SecretsManager::Secret', /^RedisAuthToken/) },
          QUEUE_NAME: 'clafusion-fusions',
        }),
      },
      // The Parameters and Secrets extension serves the Redis token on localhost.
      Layers: Match.arrayWith([Match.stringLikeRegexp('AWS-Parameters-and-Secrets-Lambda-Extension')]),
    });
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', InvokeMode: 'BUFFERED' });
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function').map((r) => r.Properties.Runtime)).toEqual(['nodejs22.x', 'nodejs22.x']);
  });
});

describe('Redis', () => {
  it('keeps the AUTH token in Secrets Manager and runs with TLS and noeviction in isolated subnets', () => {
    const secretId = logicalIdOf('AWS::SecretsManager::Secret', /^RedisAuthToken/);
    template.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: Match.objectLike({ ExcludePunctuation: true, PasswordLength: 64 }) });
    const group = resources[logicalIdOf('AWS::ElastiCache::ReplicationGroup', /^Redis/)].Properties;
    expect(group).toMatchObject({ Engine: 'redis', TransitEncryptionEnabled: true, AtRestEncryptionEnabled: true });
    expect(JSON.stringify(group.AuthToken)).toContain(`{{resolve:secretsmanager:`);
    expect(JSON.stringify(group.AuthToken)).toContain(secretId);
    template.hasResourceProperties('AWS::ElastiCache::ParameterGroup', { CacheParameterGroupFamily: 'redis7', Properties: { 'maxmemory-policy': 'noeviction' } });
    const ingress = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress');
    expect(ingress.map((r) => r.Properties.FromPort)).toEqual([6379, 6379, 6379]);
  });
});

describe('GPU runners', () => {
  it('asks for one GPU per task, injects the Redis secret and health-checks the queue connection', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['EC2'],
      NetworkMode: 'awsvpc',
      ContainerDefinitions: [
        Match.objectLike({
          ResourceRequirements: [{ Type: 'GPU', Value: '1' }],
          Environment: Match.arrayWith([{ Name: 'CLAFUSION_BACKEND', Value: 'node-gpu' }, { Name: 'RUNNER_CONCURRENCY', Value: '1' }]),
          Secrets: [{ Name: 'REDIS_AUTH_TOKEN', ValueFrom: { Ref: logicalIdOf('AWS::SecretsManager::Secret', /^RedisAuthToken/) } }],
          HealthCheck: Match.objectLike({ Command: ['CMD', 'node', '/app/infra/docker/healthcheck.mjs', 'redis'] }),
          Image: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([':v1.2.3'])] }),
          StopTimeout: 120,
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs', Options: Match.objectLike({ 'awslogs-group': { Ref: logicalIdOf('AWS::Logs::LogGroup', /^RunnerLogs/) } }) }),
        }),
      ],
    });
  });

  it('runs on GPU instances (ECS GPU AMI, g5) from an ASG that scales from zero under a managed capacity provider', () => {
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '0', MaxSize: '4', NewInstancesProtectedFromScaleIn: true });
    const lt = resources[logicalIdOf('AWS::EC2::LaunchTemplate', /^GpuHostTemplate/)].Properties.LaunchTemplateData as Json;
    expect(lt.InstanceType).toBe('g5.xlarge');
    expect(JSON.stringify(lt.MetadataOptions)).toContain('required');
    const amiParameter = Object.entries(template.toJSON().Parameters as Record<string, { Default?: string }>).find(([, p]) => p.Default?.includes('/ecs/optimized-ami/'));
    expect(amiParameter?.[1].Default).toMatch(/amazon-linux-2023\/gpu\/recommended/);
    template.hasResourceProperties('AWS::ECS::CapacityProvider', {
      AutoScalingGroupProvider: Match.objectLike({ ManagedScaling: Match.objectLike({ Status: 'ENABLED', TargetCapacity: 100 }), ManagedTerminationProtection: 'ENABLED' }),
    });
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 0, LaunchType: Match.absent() });
  });

  it('scales on Clafusion/QueueDepth: exactly one runner per waiting or running job, none when idle', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 0, MaxCapacity: 4, ScalableDimension: 'ecs:service:DesiredCount' });
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm').map((r) => r.Properties);
    expect(alarms).toHaveLength(2);
    for (const a of alarms) expect(a).toMatchObject({ Namespace: 'Clafusion', MetricName: 'QueueDepth', Dimensions: [{ Name: 'Queue', Value: 'clafusion-fusions' }], Period: 60 });

    // Reconstruct depth → runners from the two step policies and their alarm thresholds.
    const policies = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy');
    expect(policies).toHaveLength(2);
    const threshold = alarms[0].Threshold as number;
    const runnersFor = (depth: number): number | undefined => {
      for (const [, p] of policies) {
        const cfg = p.Properties.StepScalingPolicyConfiguration as { AdjustmentType: string; StepAdjustments: { MetricIntervalLowerBound?: number; MetricIntervalUpperBound?: number; ScalingAdjustment: number }[] };
        expect(cfg.AdjustmentType).toBe('ExactCapacity');
        for (const step of cfg.StepAdjustments) {
          const lo = threshold + (step.MetricIntervalLowerBound ?? -Infinity);
          const hi = threshold + (step.MetricIntervalUpperBound ?? Infinity);
          if (depth >= lo && depth < hi) return step.ScalingAdjustment;
        }
      }
      return undefined;
    };
    expect([0, 1, 2, 3, 4, 5, 50].map(runnersFor)).toEqual([0, 1, 2, 3, 4, 4, 4]);
  });

  it('refuses more runners than one policy has steps for', () => {
    expect(() => synth({ maxRunners: MAX_RUNNERS_LIMIT + 1 })).toThrow(/maxRunners must be an integer from 1 to 19/);
    expect(() => synth({ maxRunners: 0 })).toThrow(/maxRunners/);
  });
});

describe('operations', () => {
  it('keeps every log group for a month and routes both functions to their own group', () => {
    const groups = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Logs::LogGroup');
    expect(groups.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['ApiLogs', 'QueueDepthLogs', 'RunnerLogs']);
    for (const [, g] of groups) expect(g.Properties.RetentionInDays).toBe(30);
    for (const [fn, logs] of [[/^Api[0-9A-F]/, /^ApiLogs/], [/^QueueDepth[0-9A-F]/, /^QueueDepthLogs/]] as const) {
      expect(resources[logicalIdOf('AWS::Lambda::Function', fn)].Properties.LoggingConfig).toEqual({ LogGroup: { Ref: logicalIdOf('AWS::Logs::LogGroup', logs) } });
    }
  });

  it('publishes the queue depth every minute', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalIdOf('AWS::Lambda::Function', /^QueueDepth[0-9A-F]/), 'Arn'] } })],
    });
  });

  it('keeps runner images in a scanned, immutable ECR repository', () => {
    template.hasResourceProperties('AWS::ECR::Repository', { ImageScanningConfiguration: { ScanOnPush: true }, ImageTagMutability: 'IMMUTABLE' });
  });

  it('passes CDK\'s built-in CloudFormation validation (the one synth with it on)', () => {
    const { app, stack } = synth({}, true);
    const assembly = app.synth();
    expect(assembly.getStackByName(stack.stackName).template).toHaveProperty('Resources');
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    // Validation is most of a synth's time (about 20 s on the 2-core CI machine).
  }, 600_000);
});
