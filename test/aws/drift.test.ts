/**
 * End to end on AWS (a real moto server, DynamoDB state): deploy, status, drift healing for every
 * resource kind, rollback and delete. A reconciler (resync 300 ms) watches the environment while
 * each kind is deleted or changed with the AWS SDK behind berth's back; each test asserts the
 * drift event, the repair, and that the service is InSync and Healthy again within a bound.
 * After delete, nothing tagged for the service is left (Resource Groups Tagging API, plus the
 * kinds it does not cover: listener rules, health checks, berth's TXT records).
 *
 * moto never starts tasks: the server runs with MOTO_ECS_SERVICE_RUNNING=1 (a created service
 * reports 1 running) and UpdateService sets runningCount to the desired count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeleteServiceCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import {
  CreateTargetGroupCommand,
  DeleteRuleCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  ModifyRuleCommand,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  ChangeResourceRecordSetsCommand,
  DeleteHealthCheckCommand,
  ListHealthChecksCommand,
  ListResourceRecordSetsCommand,
  ListTagsForResourcesCommand,
  UpdateHealthCheckCommand,
} from '@aws-sdk/client-route-53';

import { Engine } from '../../src/engine/engine.js';
import { ruleTargets } from '../../src/providers/aws/elbv2.js';
import { startReconciler, type Reconciler } from '../../src/reconciler/index.js';
import type { Provider } from '../../src/providers/provider.js';
import type { EnvironmentConfig } from '../../src/spec/types.js';
import type { DynamoStateStore } from '../../src/state/dynamodb/store.js';
import type { EventRecord } from '../../src/state/store.js';
import {
  awsSpec,
  CLUSTER,
  DOMAIN,
  initStaging,
  openPlane,
  rawClients,
  stepRuns,
  waitFor,
  type RawClients,
} from '../helpers/aws-env.js';
import { STAGING_ACCOUNT, TEST_REGION, startMoto, type MotoServer } from '../helpers/moto.js';

const HOST = `web.staging.${DOMAIN}`;
/** Detection: a few resyncs (300 ms each) plus a sweep. Repair: the deploy's steps on moto. */
const DETECT_MS = 10_000;
const REPAIR_MS = 30_000;

let moto: MotoServer;
let env: EnvironmentConfig;
let plane: { store: DynamoStateStore; provider: Provider; close(): Promise<void> };
let engine: Engine;
let reconciler: Reconciler | null = null;
let raw: RawClients;
const events: EventRecord[] = [];
const errors: string[] = [];

beforeAll(async () => {
  moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
  env = await initStaging(moto);
  plane = await openPlane(moto, env);
  raw = rawClients(moto);
  engine = new Engine({ store: plane.store, provider: plane.provider, env, onEvent: (e) => events.push(e) });
}, 60_000);

afterAll(async () => {
  await reconciler?.stop();
  raw?.destroy();
  await plane?.close();
  await moto?.stop();
}, 30_000);

function startWatching(): Reconciler {
  return startReconciler({
    store: plane.store,
    provider: plane.provider,
    env,
    resyncMs: 300,
    owner: 'drift-test-plane',
    leaseTtlMs: 3_000,
    repairBackoffMs: 500,
    onEvent: (event) => events.push(event),
    onError: (key, error) => errors.push(`${key}: ${String(error)}`),
  });
}

// --- reading the world directly -------------------------------------------------------------

async function listenerArn(): Promise<string> {
  const lb = (await raw.elbv2.send(new DescribeLoadBalancersCommand({ Names: [CLUSTER] })))
    .LoadBalancers![0]!;
  return (await raw.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn })))
    .Listeners![0]!.ListenerArn!;
}

async function hostRule(): Promise<Rule> {
  const rules = (await raw.elbv2.send(new DescribeRulesCommand({ ListenerArn: await listenerArn() }))).Rules!;
  const rule = rules.find((r) => r.Conditions?.some((c) => c.Field === 'host-header'));
  if (!rule) throw new Error('no host-header rule');
  return rule;
}

/** The target group a rule sends traffic to (weighted forward: the heaviest). */
function servingTarget(rule: Rule): string | undefined {
  return [...ruleTargets(rule)].sort((a, b) => b.weight - a.weight)[0]?.arn;
}

async function records() {
  const zone = env.aws!.hostedZoneId!;
  return (await raw.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone })))
    .ResourceRecordSets!;
}

async function cnameOf(host: string) {
  return (await records()).find((r) => r.Type === 'CNAME' && r.Name!.replace(/\.$/, '') === host);
}

async function healthChecks() {
  return (await raw.route53.send(new ListHealthChecksCommand({}))).HealthChecks ?? [];
}

async function servingService(generation: number) {
  const out = await raw.ecs.send(
    new DescribeServicesCommand({ cluster: CLUSTER, services: [`web-staging-g${generation}`] }),
  );
  return out.services?.[0];
}

async function generation(): Promise<number> {
  return (await plane.store.getService('staging', 'web'))!.generation;
}

// --- asserting drift and repair ------------------------------------------------------------

/**
 * After `change` (made at `since`), waits for the reconciler's drift.seen event naming `kind`,
 * then for drift.repaired, then for a fresh status that is InSync and Healthy.
 */
async function expectHealed(kind: string, pattern: RegExp, change: () => Promise<void>) {
  expect((await engine.status('web'))[0]).toMatchObject({ sync: 'InSync', health: 'Healthy' });
  const from = events.length;
  const changedAt = Date.now();
  await change();
  const seen = await waitFor(
    `drift.seen for ${kind}`,
    () =>
      events
        .slice(from)
        .find((e) => e.type === 'drift.seen' && e.service === 'web' && pattern.test(e.message)),
    DETECT_MS,
  );
  const detectedMs = Date.parse(seen.time) - changedAt;
  const repaired = await waitFor(
    `drift.repaired after ${kind}`,
    () => events.slice(from).find((e) => e.type === 'drift.repaired' && e.service === 'web'),
    REPAIR_MS,
  );
  const healedMs = Date.parse(repaired.time) - changedAt;
  const status = await waitFor(
    `web InSync and Healthy after ${kind}`,
    async () => {
      const [s] = await engine.status('web');
      return s?.sync === 'InSync' && s.health === 'Healthy' && s;
    },
    REPAIR_MS,
    250,
  );
  console.log(`${kind}: detected in ${detectedMs} ms, repaired in ${healedMs} ms: ${seen.message}`);
  // Only this drift was repaired, once.
  const repairs = events.slice(from).filter((e) => e.type === 'drift.repair.started' && e.service === 'web');
  expect(repairs.length).toBeGreaterThanOrEqual(1);
  expect(events.slice(from).filter((e) => e.type === 'drift.repair.failed')).toEqual([]);
  return { seen, repaired, status };
}

// --- the tests -----------------------------------------------------------------------------

describe('berth on AWS (moto), end to end', () => {
  it('deploys through the engine and shows status', async () => {
    const outcome = await engine.deploy(awsSpec(), { healthDeadlineMs: 10_000 });
    expect(outcome.operation.status, outcome.operation.error ?? '').toBe('succeeded');
    const [status] = await engine.status('web');
    expect(status).toMatchObject({ sync: 'InSync', health: 'Healthy', generation: 1, revision: 1 });
    expect(status!.resources.map((r) => `${r.kind}:${r.state}`).sort()).toEqual([
      'compute:ok',
      'dns:ok',
      'healthcheck:ok',
      'route:ok',
    ]);
    reconciler = startWatching();
    await waitFor('the reconciler to lead', () => reconciler!.status().leader, 10_000);
    await waitFor(
      'a first in-sync reconcile',
      () => reconciler!.status().services.find((s) => s.service === 'web' && s.outcome === 'in-sync'),
      10_000,
    );
  }, 60_000);

  it('compute deleted behind its back: re-created under the next generation', async () => {
    const before = await generation();
    await expectHealed('compute (deleted)', /compute .*missing/, async () => {
      await raw.ecs.send(
        new DeleteServiceCommand({ cluster: CLUSTER, service: `web-staging-g${before}`, force: true }),
      );
    });
    const after = await generation();
    expect(after).toBeGreaterThan(before);
    expect((await servingService(after))?.status).toBe('ACTIVE');
    // The route follows the new generation's target group.
    const rule = await hostRule();
    expect(servingTarget(rule)).toBe((await servingService(after))!.loadBalancers![0]!.targetGroupArn);
  }, 60_000);

  it('compute scaled behind its back: desiredCount restored in place', async () => {
    const gen = await generation();
    await expectHealed('compute (scaled)', /compute .*modified \(replicas differs\)/, async () => {
      await raw.ecs.send(
        new UpdateServiceCommand({ cluster: CLUSTER, service: `web-staging-g${gen}`, desiredCount: 3 }),
      );
    });
    expect(await generation()).toBe(gen);
    expect((await servingService(gen))?.desiredCount).toBe(1);
  }, 60_000);

  it('compute given another task definition behind its back: replaced by one that runs the spec', async () => {
    const gen = await generation();
    await expectHealed('compute (task definition)', /compute .*modified \(image/, async () => {
      const current = (await servingService(gen))!;
      const task = (
        await raw.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: current.taskDefinition! }))
      ).taskDefinition!;
      const other = await raw.ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'someone-elses',
          networkMode: task.networkMode,
          requiresCompatibilities: task.requiresCompatibilities,
          cpu: task.cpu,
          memory: task.memory,
          containerDefinitions: task.containerDefinitions!.map((c) => ({
            ...c,
            image: 'evil.example.test/x:1',
          })),
        }),
      );
      await raw.ecs.send(
        new UpdateServiceCommand({
          cluster: CLUSTER,
          service: `web-staging-g${gen}`,
          taskDefinition: other.taskDefinition!.taskDefinitionArn!,
        }),
      );
    });
    const after = await generation();
    const service = (await servingService(after))!;
    const task = (
      await raw.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition! }))
    ).taskDefinition!;
    expect(task.containerDefinitions![0]!.image).toBe('registry.example.test/web:1');
  }, 60_000);

  it('route deleted behind its back: the listener rule is re-created', async () => {
    await expectHealed('route (deleted)', /route .*missing/, async () => {
      await raw.elbv2.send(new DeleteRuleCommand({ RuleArn: (await hostRule()).RuleArn! }));
    });
    const rule = await hostRule();
    expect(rule.Conditions![0]!.HostHeaderConfig?.Values ?? rule.Conditions![0]!.Values).toEqual([HOST]);
  }, 60_000);

  it('route pointed at another target group behind its back: pointed back', async () => {
    const gen = await generation();
    const mine = (await servingService(gen))!.loadBalancers![0]!.targetGroupArn!;
    await expectHealed('route (retargeted)', /route .*modified \(targetGroup differs\)/, async () => {
      const lb = (await raw.elbv2.send(new DescribeLoadBalancersCommand({ Names: [CLUSTER] })))
        .LoadBalancers![0]!;
      const other = await raw.elbv2.send(
        new CreateTargetGroupCommand({ Name: 'someone-elses', Protocol: 'HTTP', Port: 80, VpcId: lb.VpcId }),
      );
      await raw.elbv2.send(
        new ModifyRuleCommand({
          RuleArn: (await hostRule()).RuleArn!,
          Actions: [{ Type: 'forward', TargetGroupArn: other.TargetGroups![0]!.TargetGroupArn! }],
        }),
      );
    });
    expect(servingTarget(await hostRule())).toBe(mine);
  }, 60_000);

  it('dns CNAME deleted behind its back: written again', async () => {
    await expectHealed('dns (deleted)', /dns .*(missing|modified \(target differs\))/, async () => {
      const cname = (await cnameOf(HOST))!;
      await raw.route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: env.aws!.hostedZoneId!,
          ChangeBatch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: cname }] },
        }),
      );
      expect(await cnameOf(HOST)).toBeUndefined();
    });
    expect(await cnameOf(HOST)).toBeDefined();
  }, 60_000);

  it('dns CNAME changed behind its back: pointed at the ALB again', async () => {
    const before = (await cnameOf(HOST))!.ResourceRecords![0]!.Value;
    await expectHealed('dns (changed)', /dns .*modified \(target differs\)/, async () => {
      await raw.route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: env.aws!.hostedZoneId!,
          ChangeBatch: {
            Changes: [
              {
                Action: 'UPSERT',
                ResourceRecordSet: {
                  Name: HOST,
                  Type: 'CNAME',
                  TTL: 60,
                  ResourceRecords: [{ Value: 'elsewhere.example.test' }],
                },
              },
            ],
          },
        }),
      );
    });
    const cnames = (await records()).filter((r) => r.Type === 'CNAME');
    expect(cnames).toHaveLength(1);
    expect(cnames[0]!.ResourceRecords![0]!.Value).toBe(before);
  }, 60_000);

  it('health check deleted behind its back: re-created', async () => {
    await expectHealed('healthcheck (deleted)', /healthcheck .*missing/, async () => {
      const [check] = await healthChecks();
      await raw.route53.send(new DeleteHealthCheckCommand({ HealthCheckId: check!.Id! }));
    });
    const checks = await healthChecks();
    expect(checks).toHaveLength(1);
    expect(checks[0]!.HealthCheckConfig).toMatchObject({
      FullyQualifiedDomainName: HOST,
      ResourcePath: '/healthz',
    });
  }, 60_000);

  it('health check path changed behind its back: changed back', async () => {
    await expectHealed('healthcheck (changed)', /healthcheck .*modified \(path differs\)/, async () => {
      const [check] = await healthChecks();
      await raw.route53.send(
        new UpdateHealthCheckCommand({ HealthCheckId: check!.Id!, ResourcePath: '/other' }),
      );
    });
    const checks = await healthChecks();
    expect(checks).toHaveLength(1);
    expect(checks[0]!.HealthCheckConfig!.ResourcePath).toBe('/healthz');
  }, 60_000);

  it('deploys a new version and rolls back to the previous one', async () => {
    const v2 = await engine.deploy(awsSpec({ image: 'registry.example.test/web:2' }), {
      healthDeadlineMs: 10_000,
    });
    expect(v2.operation.status, v2.operation.error ?? '').toBe('succeeded');
    const gen2 = await generation();
    const image = async (gen: number) => {
      const service = (await servingService(gen))!;
      return (
        await raw.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition! }))
      ).taskDefinition!.containerDefinitions![0]!.image;
    };
    expect(await image(gen2)).toBe('registry.example.test/web:2');

    const back = await engine.rollback('web', undefined, { healthDeadlineMs: 10_000 });
    expect(back.operation.status, back.operation.error ?? '').toBe('succeeded');
    expect(back.operation.kind).toBe('rollback');
    const gen3 = await generation();
    expect(gen3).toBeGreaterThan(gen2);
    expect(await image(gen3)).toBe('registry.example.test/web:1');
    expect((await servingService(gen2))?.status).not.toBe('ACTIVE');
    const [status] = await engine.status('web');
    expect(status).toMatchObject({ sync: 'InSync', health: 'Healthy', generation: gen3 });
    expect(status!.revision).toBe((await plane.store.getService('staging', 'web'))!.currentRevision);
  }, 90_000);

  it('deletes the service: nothing tagged for it is left anywhere', async () => {
    const outcome = await engine.delete('web');
    expect(outcome.operation.status, outcome.operation.error ?? '').toBe('succeeded');
    expect(await plane.store.getService('staging', 'web')).toBeNull();
    // The reconciler forgets it and does not re-create anything.
    await waitFor(
      'the reconciler to forget web',
      () => !reconciler!.status().services.some((s) => s.service === 'web'),
      10_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    expect(await taggedFor('web')).toEqual([]);
    // Route 53 records carry no tags: berth's TXT tag records, and the CNAMEs beside them.
    const left = (await records()).filter((r) => r.Type === 'TXT' || r.Type === 'CNAME');
    expect(left).toEqual([]);

    // Every operation's steps ran once each (a step that succeeded never ran again).
    for (const [key, runs] of stepRuns(events)) {
      expect(runs.succeeded, key).toBeLessThanOrEqual(1);
    }
    expect(errors).toEqual([]);
  }, 60_000);
});

/**
 * Everything tagged berth:service=<service> in the account: the Resource Groups Tagging API (no
 * SDK client in this project: moto does not check signatures, so a plain JSON request does),
 * then what it does not cover in moto (listener rules, Route 53 health checks), listed directly.
 * moto keeps deleted ECS services (INACTIVE) in the tagging API; AWS drops them: only ACTIVE or
 * DRAINING ones count.
 */
async function taggedFor(service: string): Promise<string[]> {
  const found: string[] = [];
  let token: string | undefined;
  do {
    const response = await fetch(`${moto.endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'ResourceGroupsTaggingAPI_20170126.GetResources',
        'x-moto-account-id': STAGING_ACCOUNT,
        authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${TEST_REGION}/tagging/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify({
        TagFilters: [{ Key: 'berth:service', Values: [service] }],
        ...(token ? { PaginationToken: token } : {}),
      }),
    });
    expect(response.status).toBe(200);
    const page = (await response.json()) as {
      ResourceTagMappingList: { ResourceARN: string }[];
      PaginationToken?: string | null;
    };
    found.push(...page.ResourceTagMappingList.map((m) => m.ResourceARN));
    token = page.PaginationToken || undefined;
  } while (token);

  const ecsServices = found.filter((arn) => /:ecs:.*:service\//.test(arn));
  const live = new Set<string>();
  if (ecsServices.length) {
    const out = await raw.ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: ecsServices }));
    for (const s of out.services ?? []) if (s.status !== 'INACTIVE') live.add(s.serviceArn!);
  }
  const result = [...new Set(found)].filter((arn) => !ecsServices.includes(arn) || live.has(arn));

  // Listener rules (moto's tagging API does not list them).
  const rules = (await raw.elbv2.send(new DescribeRulesCommand({ ListenerArn: await listenerArn() }))).Rules!;
  const ruleArns = rules.filter((r) => !r.IsDefault).map((r) => r.RuleArn!);
  if (ruleArns.length) {
    const tags = await raw.elbv2.send(new DescribeTagsCommand({ ResourceArns: ruleArns }));
    for (const d of tags.TagDescriptions ?? []) {
      if (d.Tags?.some((t) => t.Key === 'berth:service' && t.Value === service)) result.push(d.ResourceArn!);
    }
  }
  // Route 53 health checks (nor these).
  const checkIds = (await healthChecks()).map((c) => c.Id!);
  if (checkIds.length) {
    const tags = await raw.route53.send(
      new ListTagsForResourcesCommand({ ResourceType: 'healthcheck', ResourceIds: checkIds }),
    );
    for (const set of tags.ResourceTagSets ?? []) {
      if (set.Tags?.some((t) => t.Key === 'berth:service' && t.Value === service)) {
        result.push(`healthcheck/${set.ResourceId}`);
      }
    }
  }
  return result;
}
