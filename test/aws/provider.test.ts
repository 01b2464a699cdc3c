/**
 * The AWS provider against a real moto server: env init, deploy through the engine (DynamoDB
 * state), a service deleted behind berth's back, delete from any state, sweep call counts,
 * the account check, and throttling. moto never starts tasks: the server runs with
 * MOTO_ECS_SERVICE_RUNNING=1, so a one-replica service's primary deployment reports 1/1 running.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import {
  DescribeTargetGroupAttributesCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';

import { RefusedError } from '../../src/core/errors.js';
import { berthTags } from '../../src/core/tags.js';
import { Engine } from '../../src/engine/engine.js';
import { observeEnvironment } from '../../src/engine/drift.js';
import { bootstrapAwsEnvironment } from '../../src/providers/aws/bootstrap.js';
import { clientConfig, prepareClient, type AwsConnection } from '../../src/providers/aws/clients.js';
import { createEcsApi } from '../../src/providers/aws/ecs.js';
import { createElbv2Api, listRules, listTargetGroups, tagsOf } from '../../src/providers/aws/elbv2.js';
import { createAwsProvider } from '../../src/providers/aws/index.js';
import {
  createRoute53Api,
  listHealthChecks,
  listRecords,
  normalizeName,
} from '../../src/providers/aws/route53.js';
import { TokenBucket } from '../../src/providers/aws/throttle.js';
import type { AwsService } from '../../src/providers/aws/throttle.js';
import type { EnvironmentConfig, ServiceSpec } from '../../src/spec/types.js';
import { DynamoStateStore } from '../../src/state/dynamodb/store.js';
import {
  CallCounter,
  motoConnection,
  PRODUCTION_ACCOUNT,
  STAGING_ACCOUNT,
  startMoto,
  TEST_REGION,
  useAccount,
  type MotoServer,
} from '../helpers/moto.js';

const DOMAIN = 'apps.example.test';
const TABLE = 'berth-state';
type Stack = MiddlewareStack<object, MetadataBearer>;

let moto: MotoServer;
let env: EnvironmentConfig;
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
}, 60_000);

afterAll(async () => {
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  const zone = await withRawClient(
    new Route53Client({ region: TEST_REGION, endpoint: moto.endpoint, credentials: CREDENTIALS }),
    STAGING_ACCOUNT,
    (client) =>
      client.send(new CreateHostedZoneCommand({ Name: DOMAIN, CallerReference: `zone-${Date.now()}` })),
  );
  env = {
    name: 'staging',
    provider: 'aws',
    protected: false,
    color: 'yellow',
    drift: 'heal',
    aws: {
      accountId: STAGING_ACCOUNT,
      region: TEST_REGION,
      endpoint: moto.endpoint,
      hostedZoneId: zone.HostedZone!.Id!.replace('/hostedzone/', ''),
      domain: DOMAIN,
      table: TABLE,
    },
  };
}, 30_000);

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

function connection(
  account = STAGING_ACCOUNT,
  extra?: (stack: Stack, service: AwsService) => void,
): AwsConnection {
  return motoConnection(moto, account, extra);
}

async function withRawClient<C extends { middlewareStack: unknown; destroy(): void }, T>(
  client: C,
  account: string,
  work: (client: C) => Promise<T>,
): Promise<T> {
  useAccount(client.middlewareStack as Stack, account);
  try {
    return await work(client);
  } finally {
    client.destroy();
  }
}

async function open(extra?: (stack: Stack, service: AwsService) => void) {
  await bootstrapAwsEnvironment(env, { connection: connection() });
  const provider = await createAwsProvider(env, { connection: connection(STAGING_ACCOUNT, extra) });
  const store = await DynamoStateStore.open({ table: TABLE, connection: connection() });
  opened.push(store, provider);
  const engine = new Engine({ store, provider, env });
  return { provider, store, engine };
}

function spec(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name: 'web',
    image: 'registry.example.test/web:1',
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
    env: { GREETING: 'hello' },
    protection: { deletion: false },
    drift: 'heal',
    ...overrides,
  };
}

/** What exists in moto for the environment, read with berth's own wrappers (no berth state). */
async function world() {
  const conn = connection();
  const ecs = createEcsApi(conn);
  const elbv2 = createElbv2Api(conn);
  const route53 = createRoute53Api(conn);
  try {
    const arns = (await ecs.listServices({ cluster: 'berth-staging' })).serviceArns ?? [];
    const services = arns.length
      ? ((await ecs.describeServices({ cluster: 'berth-staging', services: arns, include: ['TAGS'] }))
          .services ?? [])
      : [];
    const lb = (await elbv2.describeLoadBalancers({ Names: ['berth-staging'] })).LoadBalancers![0]!;
    const listener = (await elbv2.describeListeners({ LoadBalancerArn: lb.LoadBalancerArn })).Listeners![0]!;
    const rules = (await listRules(elbv2, listener.ListenerArn!)).filter((rule) => !rule.IsDefault);
    const groups = await listTargetGroups(elbv2);
    const records = await listRecords(route53, env.aws!.hostedZoneId!);
    const checks = await listHealthChecks(route53);
    const ruleTags = await tagsOf(
      elbv2,
      rules.map((r) => r.RuleArn!),
    );
    return { services, lb, rules, ruleTags, groups, records, checks };
  } finally {
    ecs.destroy();
    elbv2.destroy();
    route53.destroy();
  }
}

describe('aws provider on moto', () => {
  it('env init creates the shared pieces once, then finds them', async () => {
    const first = await bootstrapAwsEnvironment(env, { connection: connection() });
    expect(first.steps.map((s) => `${s.piece}:${s.outcome}`)).toEqual([
      'ecs cluster:created',
      'load balancer:created',
      'listener:created',
      'hosted zone:found',
      'log group:created',
      'state table:created',
    ]);
    const second = await bootstrapAwsEnvironment(env, { connection: connection() });
    expect(second.steps.every((s) => s.outcome === 'found')).toBe(true);
    expect(second.settings).toMatchObject({ cluster: 'berth-staging', albArn: first.settings.albArn });
  }, 60_000);

  it('deploys a service: ECS service with tags, target group, host-header rule, CNAME to the ALB, health check', async () => {
    const { engine, store } = await open();
    const outcome = await engine.deploy(spec(), { healthDeadlineMs: 10_000 });
    expect(outcome.operation.status, outcome.operation.error ?? '').toBe('succeeded');
    expect(outcome.urls).toEqual([`http://web.staging.${DOMAIN}/`]);

    const w = await world();
    const service = w.services.find((s) => s.serviceName === 'web-staging-g1')!;
    expect(service.status).toBe('ACTIVE');
    const tags = Object.fromEntries((service.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags).toEqual(berthTags('staging', 'web', 1));

    const tgArn = service.loadBalancers![0]!.targetGroupArn!;
    expect(w.groups.find((g) => g.TargetGroupArn === tgArn)?.HealthCheckPath).toBe('/healthz');
    // Old tasks drain for 30 s, not AWS's default 300 s (see DEREGISTRATION_DELAY_SECONDS).
    const elb = prepareClient(
      new ElasticLoadBalancingV2Client(clientConfig(connection())),
      'elbv2',
      connection(),
    );
    try {
      const attributes = await elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: tgArn }));
      expect(
        attributes.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value,
      ).toBe('30');
    } finally {
      elb.destroy();
    }
    const route = w.rules.find((rule) => rule.Conditions?.some((c) => c.Field === 'host-header'))!;
    expect(route.Conditions![0]!.HostHeaderConfig?.Values ?? route.Conditions![0]!.Values).toEqual([
      `web.staging.${DOMAIN}`,
    ]);
    // One rule per service: it forwards (weighted) to the serving generation's target group.
    expect(route.Actions![0]!.ForwardConfig?.TargetGroups?.map((g) => g.TargetGroupArn)).toEqual([tgArn]);
    expect(w.rules.filter((rule) => !rule.IsDefault)).toHaveLength(1);
    expect(w.ruleTags.get(route.RuleArn!)).toMatchObject(berthTags('staging', 'web', 1));

    const cname = w.records.find((r) => r.Type === 'CNAME')!;
    expect(normalizeName(cname.Name!)).toBe(`web.staging.${DOMAIN}`);
    expect(normalizeName(cname.ResourceRecords![0]!.Value!)).toBe(w.lb.DNSName!.toLowerCase());
    expect(w.checks).toHaveLength(1);
    expect(w.checks[0]!.HealthCheckConfig).toMatchObject({
      FullyQualifiedDomainName: `web.staging.${DOMAIN}`,
      ResourcePath: '/healthz',
    });

    const [status] = await engine.status('web');
    expect(status).toMatchObject({ health: 'Healthy', sync: 'InSync', generation: 1 });
    // The status of one service says what Route 53's checkers report (moto: all succeed).
    expect(status!.resources.find((r) => r.kind === 'healthcheck')?.health).toMatchObject({
      state: 'healthy',
      detail: expect.stringMatching(/^Route 53 checkers: (\d+)\/\1 healthy$/),
    });
    expect((await store.listResources('staging', 'web')).map((r) => r.kind).sort()).toEqual([
      'compute',
      'dns',
      'healthcheck',
      'route',
    ]);

    // A second deploy of the same spec changes nothing.
    const again = await engine.deploy(spec(), { healthDeadlineMs: 10_000 });
    expect(again.operation.status).toBe('succeeded');
    expect((await world()).services.filter((s) => s.status === 'ACTIVE')).toHaveLength(1);
  }, 90_000);

  it('routes a domain written in capitals or with a trailing dot once, by its normal form', async () => {
    const { engine } = await open();
    const outcome = await engine.deploy(spec({ domains: ['Shop.Example.Test.', 'shop.example.test'] }), {
      healthDeadlineMs: 10_000,
    });
    expect(outcome.operation.status, outcome.operation.error ?? '').toBe('succeeded');
    const route = (await world()).rules.find((rule) =>
      rule.Conditions?.some((c) => c.Field === 'host-header'),
    )!;
    expect(route.Conditions![0]!.HostHeaderConfig?.Values ?? route.Conditions![0]!.Values).toEqual([
      `web.staging.${DOMAIN}`,
      'shop.example.test',
    ]);
  }, 90_000);

  it('notices an ECS service deleted behind its back, re-creates it under the next generation, then deletes everything', async () => {
    const { engine } = await open();
    expect((await engine.deploy(spec(), { healthDeadlineMs: 10_000 })).operation.status).toBe('succeeded');

    // Behind berth's back, as in the outage.
    const w = await world();
    await withRawClient(
      new ECSClient({ region: TEST_REGION, endpoint: moto.endpoint, credentials: CREDENTIALS }),
      STAGING_ACCOUNT,
      (ecs) =>
        ecs.send(
          new DeleteServiceCommand({
            cluster: 'berth-staging',
            service: w.services[0]!.serviceArn,
            force: true,
          }),
        ),
    );
    const [missing] = await engine.status('web');
    expect(missing).toMatchObject({ health: 'Missing', sync: 'Drifted' });

    // The old name stays blocked (INACTIVE/DRAINING): the next generation gets a new one.
    const redeploy = await engine.deploy(spec(), { healthDeadlineMs: 10_000 });
    expect(redeploy.operation.status, redeploy.operation.error ?? '').toBe('succeeded');
    const after = await world();
    expect(after.services.filter((s) => s.status === 'ACTIVE').map((s) => s.serviceName)).toEqual([
      'web-staging-g2',
    ]);
    const [healed] = await engine.status('web');
    expect(healed).toMatchObject({ health: 'Healthy', sync: 'InSync', generation: 2 });
    // The dead generation's target group went with it.
    expect(after.groups.map((g) => g.TargetGroupName)).toEqual([expect.stringMatching(/-g2$/)]);

    const deleted = await engine.delete('web');
    expect(deleted.operation.status, deleted.operation.error ?? '').toBe('succeeded');
    const empty = await world();
    expect(empty.services.filter((s) => s.status === 'ACTIVE')).toEqual([]);
    expect(empty.rules).toEqual([]);
    expect(empty.groups).toEqual([]);
    expect(empty.records.filter((r) => r.Type === 'CNAME' || r.Type === 'TXT')).toEqual([]);
    expect(empty.checks).toEqual([]);

    // Delete again from nothing: what is gone counts as done.
    await expect(engine.delete('web')).rejects.toThrow(/no service "web"/);
  }, 90_000);

  it('observes an environment with batched calls: DescribeServices in tens, O(1) list pages', async () => {
    const counter = new CallCounter();
    const { provider } = await open((stack, service) => counter.install(stack, service));
    const N = 45;
    await withRawClient(
      new ECSClient({ region: TEST_REGION, endpoint: moto.endpoint, credentials: CREDENTIALS }),
      STAGING_ACCOUNT,
      async (ecs) => {
        const td = await ecs.send(
          new RegisterTaskDefinitionCommand({
            family: 'sweep',
            containerDefinitions: [
              { name: 'app', image: 'img:1', memory: 512, portMappings: [{ containerPort: 80 }] },
            ],
          }),
        );
        for (let i = 0; i < N; i++) {
          const tags = berthTags('staging', `svc${i}`, 1);
          await ecs.send(
            new CreateServiceCommand({
              cluster: 'berth-staging',
              serviceName: `svc${i}-staging-g1`,
              taskDefinition: td.taskDefinition!.taskDefinitionArn,
              desiredCount: 1,
              tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
            }),
          );
        }
      },
    );
    counter.reset();
    const observation = await observeEnvironment(provider, 'staging');
    expect(observation.size).toBe(N);
    const calls = counter.snapshot();
    console.log(`sweep of ${N} services: ${JSON.stringify(calls)}`);
    expect(calls['ecs:DescribeServices']).toBe(Math.ceil(N / 10));
    expect(calls['ecs:ListServices']).toBe(1);
    expect(calls['ecs:DescribeTaskDefinition']).toBe(1); // one distinct task definition, then cached
    expect(calls['elbv2:DescribeRules']).toBe(1);
    expect(calls['elbv2:DescribeTargetGroups']).toBe(1);
    expect(calls['route53:ListResourceRecordSets']).toBe(1);
    expect(calls['route53:ListHealthChecks']).toBe(1);
    const total = Object.values(calls).reduce((a, b) => a + b, 0);
    // + the environment's load balancers and their listener, looked up once (the pool).
    expect(total).toBeLessThanOrEqual(Math.ceil(N / 10) + 8);

    // A second sweep needs no DescribeTaskDefinition at all.
    counter.reset();
    await observeEnvironment(provider, 'staging');
    expect(counter.get('ecs:DescribeTaskDefinition')).toBe(0);
  });

  it('refuses credentials of another account than the environment declares (exit 3)', async () => {
    await bootstrapAwsEnvironment(env, { connection: connection() });
    const provider = await createAwsProvider(env, { connection: connection(PRODUCTION_ACCOUNT) });
    opened.push(provider);
    const refused = await provider.identity().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RefusedError);
    expect(refused).toMatchObject({ exitCode: 3, code: 'identity_mismatch' });
    expect(String((refused as Error).message)).toContain(PRODUCTION_ACCOUNT);
    await expect(
      bootstrapAwsEnvironment(env, { connection: connection(PRODUCTION_ACCOUNT) }),
    ).rejects.toBeInstanceOf(RefusedError);

    const ok = await createAwsProvider(env, { connection: connection(STAGING_ACCOUNT) });
    opened.push(ok);
    expect(await ok.identity()).toMatchObject({
      id: STAGING_ACCOUNT,
      description: expect.stringMatching(
        new RegExp(`^aws account ${STAGING_ACCOUNT} \\(${TEST_REGION}\\) as arn:`),
      ),
    });
  });

  it('retries throttling with jitter: a deploy succeeds while AWS throttles', async () => {
    const counter = new CallCounter();
    let throttled = 0;
    const throttle = (stack: Stack, service: AwsService) => {
      counter.install(stack, service);
      // The first 3 attempts of each of these calls are throttled, as AWS does under load.
      const seen = new Map<string, number>();
      stack.add(
        (next, context) => async (args) => {
          const name = context.commandName ?? '';
          if (
            ['DescribeServicesCommand', 'CreateRuleCommand', 'ChangeResourceRecordSetsCommand'].includes(name)
          ) {
            const n = (seen.get(name) ?? 0) + 1;
            seen.set(name, n);
            if (n <= 3) {
              throttled++;
              throw Object.assign(new Error('Rate exceeded'), {
                name: 'ThrottlingException',
                $metadata: { httpStatusCode: 400 },
              });
            }
          }
          return next(args);
        },
        { step: 'build', name: 'injectThrottling' },
      );
    };
    const { engine } = await open(throttle);
    const outcome = await engine.deploy(spec(), { healthDeadlineMs: 10_000 });
    expect(outcome.operation.status, outcome.operation.error ?? '').toBe('succeeded');
    expect(throttled).toBeGreaterThanOrEqual(9);
    // No step even had to retry: the client absorbed every throttle.
    expect(outcome.operation.steps.every((step) => step.attempts === 1)).toBe(true);
  });
});

describe('token bucket', () => {
  it('gives the burst at once, then one token per 1/rate seconds', () => {
    let now = 0;
    const bucket = new TokenBucket({ burst: 3, perSecond: 2 }, () => now);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    expect(bucket.reserve()).toBe(500);
    expect(bucket.reserve()).toBe(1000);
    now = 5_000; // refilled (capped at the burst)
    expect(bucket.reserve()).toBe(0);
  });
});
