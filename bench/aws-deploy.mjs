// What one deploy costs in AWS calls as the environment grows: N services already in the
// environment (N = 10 and 1,000 by default), then berth deploys one new service and redeploys an
// existing one with a new image, through the engine against a moto server. Prints the calls of
// each deploy by API and operation (berth's own per-call counter, the one /metrics exports),
// DynamoDB included, and the wall time. Goal: the same count at every N.
//   npm run bench:aws-deploy            (SIZES=10,1000 by default)
// The N services are laid out as berth lays them out (ECS service, target group tagged with its
// ALB, one listener rule each on a pool of ALBs holding 90 rules each, CNAME + TXT, health check),
// made directly with the SDK so that setting up 1,000 takes seconds, not a thousand deploys.
// Client-side rate limits are off (the wall time is moto's, not AWS's budgets). Loopback only.
import {
  CreateHostedZoneCommand,
  ChangeResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { ChangeTagsForResourceCommand, CreateHealthCheckCommand } from '@aws-sdk/client-route-53';
import { CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startMotoServer } from '../test/helpers/moto-server.mjs';
import { addPoolMembers, elbTags } from './support/alb-pool.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SIZES = (process.env.SIZES ?? '10,1000').split(',').map(Number);
const PER_ALB = 90;
const ACCOUNT = '123456789012'; // moto's default account
const REGION = 'eu-west-1';
const ENV = 'bench';
const DOMAIN = 'bench.example.test';
const TABLE = 'berth-bench';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

const { bootstrapAwsEnvironment } = await import(join(ROOT, 'dist/providers/aws/bootstrap.js'));
const { createAwsProvider } = await import(join(ROOT, 'dist/providers/aws/index.js'));
const { awsCallCounts } = await import(join(ROOT, 'dist/providers/aws/call-metrics.js'));
const { tagsToTxt } = await import(join(ROOT, 'dist/providers/aws/dns.js'));
const { targetGroupName, ecsServiceName, taskFamily } = await import(
  join(ROOT, 'dist/providers/aws/shared.js')
);
const { TAG_ALB } = await import(join(ROOT, 'dist/providers/aws/pool.js'));
const { DynamoStateStore } = await import(join(ROOT, 'dist/state/dynamodb/store.js'));
const { Engine } = await import(join(ROOT, 'dist/engine/engine.js'));
const { berthTags } = await import(join(ROOT, 'dist/core/tags.js'));

async function pool(n, width, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

const spec = (name, image = 'registry.example.test/app:1') => ({
  name,
  image,
  port: 8080,
  replicas: 1,
  health: {
    path: '/healthz',
    intervalMs: 10_000,
    timeoutMs: 5_000,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
  },
  domains: [],
  env: {},
  protection: { deletion: false },
  drift: 'report',
});

async function populate(moto, n) {
  const config = { region: REGION, endpoint: moto.endpoint, credentials: CREDENTIALS, maxAttempts: 3 };
  const ecs = new ECSClient(config);
  const elbv2 = new ElasticLoadBalancingV2Client(config);
  const route53 = new Route53Client(config);
  try {
    const zone = await route53.send(
      new CreateHostedZoneCommand({ Name: DOMAIN, CallerReference: `bench-${Date.now()}` }),
    );
    const hostedZoneId = zone.HostedZone.Id.replace('/hostedzone/', '');
    const env = {
      name: ENV,
      provider: 'aws',
      protected: false,
      color: 'blue',
      drift: 'report',
      aws: {
        accountId: ACCOUNT,
        region: REGION,
        endpoint: moto.endpoint,
        hostedZoneId,
        domain: DOMAIN,
        table: TABLE,
      },
    };
    const report = await bootstrapAwsEnvironment(env, { connection: { credentials: CREDENTIALS } });
    const { cluster, listenerArn, vpcId, subnets, securityGroups } = report.settings;
    const ecsTags = (tags) => Object.entries(tags).map(([key, value]) => ({ key, value }));
    // The pool: ALB 1 from env init, then one more per 90 services.
    const albs = [{ name: `berth-${ENV}`, listenerArn, dns: '' }];
    albs.push(
      ...(await addPoolMembers(elbv2, {
        env: ENV,
        count: n,
        perAlb: PER_ALB,
        subnets,
        securityGroups,
        tags: { 'berth:managed-by': 'berth', 'berth:env': ENV },
        defaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }],
      })),
    );
    const name = (i) => `svc${i}`;
    const task = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: taskFamily(ENV, 'existing'),
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '256',
        memory: '512',
        containerDefinitions: [
          { name: 'app', image: 'registry.example.test/app:1', portMappings: [{ containerPort: 8080 }] },
        ],
      }),
    );
    await pool(n, 8, async (i) => {
      const alb = albs[Math.floor(i / PER_ALB)];
      const tags = berthTags(ENV, name(i), 1);
      const group = (
        await elbv2.send(
          new CreateTargetGroupCommand({
            Name: targetGroupName(ENV, name(i), 1),
            Protocol: 'HTTP',
            Port: 8080,
            VpcId: vpcId,
            TargetType: 'ip',
            Tags: elbTags({ ...tags, [TAG_ALB]: alb.name }),
          }),
        )
      ).TargetGroups[0].TargetGroupArn;
      await elbv2.send(
        new CreateRuleCommand({
          ListenerArn: alb.listenerArn,
          Priority: (i % PER_ALB) + 1,
          Conditions: [
            { Field: 'host-header', HostHeaderConfig: { Values: [`${name(i)}.${ENV}.${DOMAIN}`] } },
          ],
          Actions: [
            { Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: group, Weight: 1 }] } },
          ],
          Tags: elbTags(tags),
        }),
      );
      await ecs.send(
        new CreateServiceCommand({
          cluster,
          serviceName: ecsServiceName(ENV, name(i), 1),
          taskDefinition: task.taskDefinition.taskDefinitionArn,
          desiredCount: 1,
          launchType: 'FARGATE',
          networkConfiguration: { awsvpcConfiguration: { subnets, securityGroups } },
          loadBalancers: [{ targetGroupArn: group, containerName: 'app', containerPort: 8080 }],
          tags: ecsTags(tags),
        }),
      );
      const check = await route53.send(
        new CreateHealthCheckCommand({
          CallerReference: `berth-bench-${i}`,
          HealthCheckConfig: {
            Type: 'HTTP',
            FullyQualifiedDomainName: `${name(i)}.${ENV}.${DOMAIN}`,
            ResourcePath: '/healthz',
            Port: 80,
            RequestInterval: 10,
            FailureThreshold: 3,
          },
        }),
      );
      await route53.send(
        new ChangeTagsForResourceCommand({
          ResourceType: 'healthcheck',
          ResourceId: check.HealthCheck.Id,
          AddTags: elbTags(tags),
        }),
      );
    });
    for (let start = 0; start < n; start += 200) {
      const changes = [];
      for (let i = start; i < Math.min(n, start + 200); i++) {
        const host = `${name(i)}.${ENV}.${DOMAIN}`;
        const target = albs[Math.floor(i / PER_ALB)].dns || 'first.example';
        changes.push(
          {
            Action: 'UPSERT',
            ResourceRecordSet: { Name: host, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: target }] },
          },
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: host,
              Type: 'TXT',
              TTL: 60,
              ResourceRecords: [{ Value: tagsToTxt(berthTags(ENV, name(i), 1)) }],
            },
          },
        );
      }
      await route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: hostedZoneId,
          ChangeBatch: { Changes: changes },
        }),
      );
    }
    return { env, albs: albs.length };
  } finally {
    ecs.destroy();
    elbv2.destroy();
    route53.destroy();
  }
}

function diff(after, before) {
  const out = new Map();
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta > 0) out.set(key, delta);
  }
  return out;
}

function summary(calls) {
  const total = [...calls.values()].reduce((a, b) => a + b, 0);
  const aws = [...calls].filter(([k]) => !k.startsWith('dynamodb:')).reduce((a, [, v]) => a + v, 0);
  const list = [...calls]
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return { total, aws, list };
}

async function measure(moto, n) {
  await moto.reset();
  const started = performance.now();
  const { env, albs } = await populate(moto, n);
  console.log(
    `N = ${n}: ${n} services on ${albs} ALB(s), made in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const connection = { credentials: CREDENTIALS, retry: { rateLimits: 'off' } };
  const store = await DynamoStateStore.open({
    table: TABLE,
    connection: { region: REGION, endpoint: moto.endpoint, ...connection },
  });
  const rows = [];
  try {
    // Each deploy as the CLI makes it: a fresh provider (cold caches, its start-up calls counted).
    for (const [label, work] of [
      ['new service', (engine) => engine.deploy(spec('fresh'), { healthDeadlineMs: 30_000 })],
      [
        'new image',
        (engine) => engine.deploy(spec('fresh', 'registry.example.test/app:2'), { healthDeadlineMs: 30_000 }),
      ],
    ]) {
      const before = await awsCallCounts();
      const t0 = performance.now();
      const provider = await createAwsProvider(env, { connection });
      const engine = new Engine({ store, provider, env });
      const outcome = await work(engine);
      const ms = performance.now() - t0;
      const calls = diff(await awsCallCounts(), before);
      await provider.close();
      if (outcome.operation.status !== 'succeeded')
        throw new Error(`${label} failed: ${outcome.operation.error}`);
      const { total, aws, list } = summary(calls);
      console.log(
        `  deploy (${label.padEnd(11)}) ${String(aws).padStart(4)} AWS calls + ${total - aws} DynamoDB, ${ms.toFixed(0)} ms  [${list}]`,
      );
      rows.push({ label, aws, dynamo: total - aws });
    }
  } finally {
    await store.close();
  }
  return rows;
}

const moto = await startMotoServer({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
process.once('SIGINT', () => void moto.stop().finally(() => process.exit(130)));
try {
  console.log(`moto on ${moto.endpoint}; calls per deploy (every attempt) by berth's own counter`);
  const results = new Map();
  for (const n of SIZES) results.set(n, await measure(moto, n));
  const sizes = [...results.keys()];
  if (sizes.length > 1) {
    // The AWS calls are the deploy's own resources; the DynamoDB calls are berth's state store,
    // whose operation lease is renewed while a step waits, so they follow the deploy's wall time.
    for (const [i, row] of results.get(sizes[0]).entries()) {
      const counts = sizes.map((n) => results.get(n)[i].aws);
      const dynamo = sizes.map((n) => results.get(n)[i].dynamo);
      console.log(
        `${row.label}: AWS calls ${sizes.map((n, j) => `N=${n} ${counts[j]}`).join(', ')} -> ${counts.every((c) => c === counts[0]) ? 'same count' : 'DIFFERENT'} (DynamoDB ${dynamo.join(' / ')})`,
      );
    }
  }
} finally {
  await moto.stop();
}
