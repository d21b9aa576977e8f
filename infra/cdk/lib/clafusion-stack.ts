/**
 * clafusion on AWS, one stack:
 *
 *   client ──HTTPS──▶ Lambda function URL ─▶ API Lambda (Node 22, the Hono app) ──▶ S3 (presigned PUT/GET)
 *                                                │ enqueue (BullMQ)
 *                                                ▼
 *   EventBridge 1/min ─▶ queue-depth Lambda ──▶ ElastiCache Redis (TLS + AUTH, isolated subnets)
 *        │ EMF metric Clafusion/QueueDepth             ▲ take jobs
 *        ▼                                             │
 *   step scaling (exact capacity) ─▶ ECS service of GPU runners (g5, 1 GPU per task) ──▶ S3
 *
 * Least privilege is written out statement by statement (no `*` actions,
 * no grant helpers that add `s3:GetObject*`-style wildcards): the API may
 * read and write the whole service layout, the runners only the model
 * files they read and the job folders they write, and nobody but the API
 * (and operators) can read the hashed API-key records under `system/api-keys/`.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/** The CloudWatch metric the queue-depth function publishes (infra/cdk/lambda/queue-depth.ts). */
export const METRIC_NAMESPACE = 'Clafusion';
export const QUEUE_DEPTH_METRIC = 'QueueDepth';
/** Application Auto Scaling takes at most 20 step adjustments per policy: one for "none" plus one per runner. */
export const MAX_RUNNERS_LIMIT = 19;

export interface ClafusionStackProps extends StackProps {
  /** The bundled API (infra/bundle: entry `lambda`), an `index.mjs` exporting `handler`. */
  apiCode: lambda.Code;
  /** The bundled queue-depth function (entry `queue-depth`). */
  queueDepthCode: lambda.Code;
  /** Tag of the GPU runner image in the stack's ECR repository (pushed by CI; see infra/README.md). */
  runnerImageTag: string;
  /** Most GPU runners (= GPU instances) at once. Default 4. */
  maxRunners?: number;
  /** Default g5.xlarge: one A10G (24 GB, compute capability 8.6), 4 vCPU, 16 GiB. */
  runnerInstanceType?: string;
  /** Days uploads, job records and outputs live under `tenants/`. Default 30. */
  retentionDays?: number;
  /** CloudWatch log retention for every log group. Default one month. */
  logRetention?: logs.RetentionDays;
  /** BullMQ queue name shared by API, runners and the metric. */
  queueName?: string;
}

export class ClafusionStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly apiFunction: lambda.Function;
  readonly runnerService: ecs.Ec2Service;

  constructor(scope: Construct, id: string, props: ClafusionStackProps) {
    super(scope, id, props);
    const maxRunners = props.maxRunners ?? 4;
    if (!Number.isInteger(maxRunners) || maxRunners < 1 || maxRunners > MAX_RUNNERS_LIMIT) {
      throw new Error(`maxRunners must be an integer from 1 to ${MAX_RUNNERS_LIMIT} (one scaling step per runner), got ${maxRunners}`);
    }
    const retentionDays = props.retentionDays ?? 30;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const queueName = props.queueName ?? 'clafusion-fusions';

    // ── Storage ────────────────────────────────────────────────────────────
    const dataKey = new kms.Key(this, 'DataKey', {
      description: 'clafusion: model files, datasets, job records and outputs',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket = new s3.Bucket(this, 'Data', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: dataKey,
      // One data key per bucket instead of a KMS call per object: cheaper and under KMS request quotas.
      bucketKeyEnabled: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          // Job outputs (and the uploads and records they came from) expire together: the store keeps each job
          // under tenants/<t>/fusions/<id>/, and lifecycle filters match prefixes, not a wildcard in the middle.
          id: 'expire-tenant-data',
          prefix: 'tenants/',
          expiration: Duration.days(retentionDays),
        },
        // The S3 store's scratch objects: multipart uploads staged before their copy into place, and its probes.
        { id: 'expire-staging', prefix: '.staging/', expiration: Duration.days(1) },
        { id: 'expire-probes', prefix: '.probe/', expiration: Duration.days(1) },
        {
          id: 'versions-and-uploads',
          noncurrentVersionExpiration: Duration.days(7),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          expiredObjectDeleteMarker: true,
        },
      ],
    });

    // ── Network ────────────────────────────────────────────────────────────
    // One NAT gateway (not one per AZ): the runners pull images and reach ECS, Secrets Manager and
    // CloudWatch through it; losing an AZ only delays jobs, which BullMQ keeps.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 26 },
      ],
      // Model files go to S3 through the free gateway endpoint, not the NAT's per-GB charge.
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    const apiSg = new ec2.SecurityGroup(this, 'ApiSg', { vpc, description: 'clafusion API Lambda', allowAllOutbound: true });
    const runnerSg = new ec2.SecurityGroup(this, 'RunnerSg', { vpc, description: 'clafusion GPU runner tasks', allowAllOutbound: true });
    const metricSg = new ec2.SecurityGroup(this, 'QueueDepthSg', { vpc, description: 'clafusion queue-depth function', allowAllOutbound: true });
    const redisSg = new ec2.SecurityGroup(this, 'RedisSg', { vpc, description: 'clafusion Redis: API, runners and the metric only', allowAllOutbound: false });
    for (const [sg, who] of [[apiSg, 'API'], [runnerSg, 'runners'], [metricSg, 'queue-depth metric']] as const) {
      redisSg.addIngressRule(sg, ec2.Port.tcp(6379), `Redis from the ${who}`);
    }

    // ── Redis (BullMQ) ─────────────────────────────────────────────────────
    // The AUTH token: generated by Secrets Manager, handed to ElastiCache as a dynamic reference, injected
    // into the runner containers by ECS and read by the Lambdas through the Parameters and Secrets extension.
    // Letters and digits only, so it can sit in a redis:// URL unescaped.
    const redisAuth = new secretsmanager.Secret(this, 'RedisAuthToken', {
      description: 'clafusion: Redis AUTH token (ElastiCache, BullMQ queue)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    const redisSubnets = new elasticache.CfnSubnetGroup(this, 'RedisSubnets', {
      description: 'clafusion Redis (isolated subnets)',
      subnetIds: vpc.isolatedSubnets.map((s) => s.subnetId),
    });
    // BullMQ needs noeviction; ElastiCache's default policy (volatile-lru) could drop job keys under memory pressure.
    const redisParams = new elasticache.CfnParameterGroup(this, 'RedisParams', {
      cacheParameterGroupFamily: 'redis7',
      description: 'clafusion: BullMQ needs maxmemory-policy noeviction',
      properties: { 'maxmemory-policy': 'noeviction' },
    });
    const redis = new elasticache.CfnReplicationGroup(this, 'Redis', {
      replicationGroupDescription: 'clafusion job queue (BullMQ)',
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: 'cache.t4g.micro',
      // One node: a lost node loses queued job messages, but every job is also recorded in S3 and the API
      // re-enqueues unfinished ones. Set 2 with automaticFailoverEnabled for a hot standby (twice the cost).
      numCacheClusters: 1,
      cacheSubnetGroupName: redisSubnets.ref,
      cacheParameterGroupName: redisParams.ref,
      securityGroupIds: [redisSg.securityGroupId],
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      authToken: redisAuth.secretValue.unsafeUnwrap(),
      port: 6379,
    });
    // rediss://: TLS (ioredis turns it on from the scheme). The token is added at run time, never stored here.
    const redisUrl = `rediss://${redis.attrPrimaryEndPointAddress}:${redis.attrPrimaryEndPointPort}`;

    // ── Logs ───────────────────────────────────────────────────────────────
    const logGroup = (id: string, name: string) =>
      new logs.LogGroup(this, id, { logGroupName: name, retention: logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const apiLogs = logGroup('ApiLogs', `/clafusion/${this.stackName}/api`);
    const runnerLogs = logGroup('RunnerLogs', `/clafusion/${this.stackName}/runner`);
    const metricLogs = logGroup('QueueDepthLogs', `/clafusion/${this.stackName}/queue-depth`);

    // ── API (Lambda + function URL) ────────────────────────────────────────
    const paramsAndSecrets = lambda.ParamsAndSecretsLayerVersion.fromVersion(lambda.ParamsAndSecretsVersions.V1_0_103, {
      cacheEnabled: true,
      logLevel: lambda.ParamsAndSecretsLogLevel.WARN,
    });
    const queueEnv = { REDIS_URL: redisUrl, QUEUE_NAME: queueName };
    // The Lambdas fetch the token themselves (the extension caches it); ECS injects it into the runners.
    const lambdaQueueEnv = { ...queueEnv, REDIS_AUTH_SECRET_ARN: redisAuth.secretArn };
    this.apiFunction = new lambda.Function(this, 'Api', {
      description: 'clafusion API (Hono app: REST /v1, tRPC /trpc)',
      runtime: lambda.Runtime.NODEJS_22_X,
      // The bundle is plain JavaScript (no native modules), so Graviton: about 20% cheaper per GB-second.
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: props.apiCode,
      memorySize: 1024,
      // Requests validate headers and enqueue; uploads and downloads go to S3 through presigned URLs.
      timeout: Duration.seconds(30),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [apiSg],
      logGroup: apiLogs,
      paramsAndSecrets,
      environment: {
        ...lambdaQueueEnv,
        S3_BUCKET: this.bucket.bucketName,
        S3_REGION: this.region,
        PRESIGN_SECONDS: '900',
      },
    });
    const apiUrl = this.apiFunction.addFunctionUrl({
      // The API authenticates every request itself (bearer API keys); IAM auth would force SigV4 on clients.
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });
    redisAuth.grantRead(this.apiFunction);

    const objects = (...prefixes: string[]) => prefixes.map((p) => this.bucket.arnForObjects(p));
    const allow = (sid: string, actions: string[], resources: string[]) => new iam.PolicyStatement({ sid, effect: iam.Effect.ALLOW, actions, resources });
    // ListBucket without a prefix condition: HeadObject on a missing key returns 404 only with it (403 otherwise),
    // and the stores treat "absent" and "forbidden" differently.
    const listBucket = allow('ListBucket', ['s3:ListBucket'], [this.bucket.bucketArn]);
    const scratch = allow('StoreScratch', ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], objects('.staging/*', '.probe/*'));
    const useKey = allow('DataKey', ['kms:Decrypt', 'kms:GenerateDataKey'], [dataKey.keyArn]);

    this.apiFunction.addToRolePolicy(listBucket);
    this.apiFunction.addToRolePolicy(
      // Presigned PUT/GET URLs act with the signer's rights, so these cover client uploads and downloads too.
      allow('ServiceData', ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], objects('tenants/*', 'system/*')),
    );
    this.apiFunction.addToRolePolicy(allow('ForgetFinishedJobs', ['s3:DeleteObject'], objects('system/active-jobs/*')));
    this.apiFunction.addToRolePolicy(scratch);
    this.apiFunction.addToRolePolicy(useKey);

    // ── Queue depth → CloudWatch ───────────────────────────────────────────
    const queueDepth = new lambda.Function(this, 'QueueDepth', {
      description: 'clafusion: publishes Clafusion/QueueDepth (waiting + active fusion jobs) every minute',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: props.queueDepthCode,
      memorySize: 256,
      timeout: Duration.seconds(20),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [metricSg],
      logGroup: metricLogs,
      paramsAndSecrets,
      environment: lambdaQueueEnv,
    });
    redisAuth.grantRead(queueDepth);
    new events.Rule(this, 'QueueDepthSchedule', {
      description: 'clafusion: publish the queue depth',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(queueDepth, { retryAttempts: 0 })],
    });

    // ── GPU runners (ECS on EC2 GPU instances) ─────────────────────────────
    const repository = new ecr.Repository(this, 'RunnerImages', {
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ description: 'keep the last 20 runner images', maxImageCount: 20 }],
    });
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.DISABLED });
    // A launch template (launch configurations can no longer be created in new accounts).
    const gpuHostTemplate = new ec2.LaunchTemplate(this, 'GpuHostTemplate', {
      instanceType: new ec2.InstanceType(props.runnerInstanceType ?? 'g5.xlarge'),
      // The ECS GPU AMI carries the NVIDIA driver and container toolkit; the CUDA 11.2 userland is in the image,
      // and a newer driver runs older CUDA userlands (see infra/README.md, "CUDA and cuDNN").
      machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.GPU),
      // ECS appends the cluster-join lines to this.
      userData: ec2.UserData.forLinux(),
      role: new iam.Role(this, 'GpuHostRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'), description: 'clafusion GPU hosts (ECS agent)' }),
      requireImdsv2: true,
      securityGroup: new ec2.SecurityGroup(this, 'GpuHostSg', { vpc, description: 'clafusion GPU hosts (tasks have their own ENIs)', allowAllOutbound: true }),
      // The runner image (CUDA + cuDNN + libtensorflow) is several GB; room for two versions during a deploy.
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(100, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }) }],
    });
    const gpuHosts = new autoscaling.AutoScalingGroup(this, 'GpuHosts', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      launchTemplate: gpuHostTemplate,
      minCapacity: 0,
      maxCapacity: maxRunners,
      // ECS managed termination protection needs it: instances with running tasks are not scaled in.
      newInstancesProtectedFromScaleIn: true,
    });
    const capacity = new ecs.AsgCapacityProvider(this, 'GpuCapacity', {
      autoScalingGroup: gpuHosts,
      enableManagedScaling: true,
      enableManagedTerminationProtection: true,
      targetCapacityPercent: 100,
    });
    cluster.addAsgCapacityProvider(capacity);

    const runnerTask = new ecs.Ec2TaskDefinition(this, 'RunnerTask', { networkMode: ecs.NetworkMode.AWS_VPC });
    runnerTask.addContainer('runner', {
      image: ecs.ContainerImage.fromEcrRepository(repository, props.runnerImageTag),
      gpuCount: 1,
      // g5.xlarge has 16 GiB; the rest is the ECS agent's and the OS's.
      memoryReservationMiB: 12_288,
      logging: ecs.LogDrivers.awsLogs({ logGroup: runnerLogs, streamPrefix: 'runner' }),
      environment: {
        ...queueEnv,
        S3_BUCKET: this.bucket.bucketName,
        S3_REGION: this.region,
        CLAFUSION_BACKEND: 'node-gpu',
        RUNNER_CONCURRENCY: '1',
      },
      // ECS resolves the secret at task start; the image's entrypoint adds it to REDIS_URL.
      secrets: { REDIS_AUTH_TOKEN: ecs.Secret.fromSecretsManager(redisAuth) },
      healthCheck: {
        command: ['CMD', 'node', '/app/infra/docker/healthcheck.mjs', 'redis'],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(10),
        retries: 3,
        startPeriod: Duration.seconds(120),
      },
      // SIGTERM lets the runner finish or hand back its job; 120 s is the EC2 launch type's ceiling.
      stopTimeout: Duration.seconds(120),
    });
    const runnerRole = runnerTask.taskRole;
    runnerRole.addToPrincipalPolicy(listBucket);
    runnerRole.addToPrincipalPolicy(allow('ReadInputs', ['s3:GetObject'], objects('tenants/*/files/*')));
    runnerRole.addToPrincipalPolicy(allow('WriteJobs', ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], objects('tenants/*/fusions/*')));
    runnerRole.addToPrincipalPolicy(allow('FinishJobs', ['s3:DeleteObject'], objects('system/active-jobs/*')));
    runnerRole.addToPrincipalPolicy(scratch);
    runnerRole.addToPrincipalPolicy(useKey);

    this.runnerService = new ecs.Ec2Service(this, 'Runners', {
      cluster,
      taskDefinition: runnerTask,
      desiredCount: 0,
      securityGroups: [runnerSg],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      capacityProviderStrategies: [{ capacityProvider: capacity.capacityProviderName, weight: 1 }],
      // GPUs are the scarce resource: replace runners in place on deploy instead of asking for extra instances.
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      circuitBreaker: { rollback: true },
    });

    // One runner per job that is waiting or running (each runner takes one job at a time), up to maxRunners;
    // none when the queue is empty, so idle GPUs cost nothing beyond ECS's managed scale-in delay.
    const depth = new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName: QUEUE_DEPTH_METRIC,
      dimensionsMap: { Queue: queueName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(1),
    });
    const steps: appscaling.ScalingInterval[] = [{ upper: 0.5, change: 0 }];
    for (let n = 1; n <= maxRunners; n++) steps.push(n === maxRunners ? { lower: n - 0.5, change: n } : { lower: n - 0.5, upper: n + 0.5, change: n });
    const scaling = this.runnerService.autoScaleTaskCount({ minCapacity: 0, maxCapacity: maxRunners });
    scaling.scaleOnMetric('QueueDepthScaling', {
      metric: depth,
      scalingSteps: steps,
      adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
      // One minute at zero stops the tasks; the GPU instance itself stays up until ECS managed scaling's
      // scale-in (about 15 minutes), so a job arriving soon after starts on a warm host with the image cached.
      cooldown: Duration.seconds(60),
      evaluationPeriods: 1,
    });

    new CfnOutput(this, 'ApiUrl', { value: apiUrl.url, description: 'The API (function URL)' });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'RunnerRepositoryUri', { value: repository.repositoryUri, description: 'docker push the GPU runner image here' });
    new CfnOutput(this, 'ClusterName', { value: cluster.clusterName });
    new CfnOutput(this, 'RunnerServiceName', { value: this.runnerService.serviceName });
    new CfnOutput(this, 'RedisAuthSecretArn', { value: redisAuth.secretArn });
  }
}
