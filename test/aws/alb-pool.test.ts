/**
 * Load balancer capacity on AWS (moto behind a fault-injecting proxy that enforces AWS's quota of
 * 100 listener rules per load balancer, which moto does not): 150 services deploy into one
 * environment, one rule each, across a pool of two ALBs; each service's DNS name points at its own
 * ALB and its plan says which one. Then: a rule AWS refuses fails the deploy naming the quota and
 * leaves nothing behind; a deploy that cannot fit anywhere is refused before anything changes.
 *
 * Deploys run twelve at a time through one engine, with berth's client-side rate limits off (they
 * mirror AWS's budgets, which would make 150 deploys take minutes of waiting on moto). berth's
 * state is in SQLite here: the load balancers are what is under test, and moto serves one request
 * at a time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeServicesCommand, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  type LoadBalancer,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';

import { Engine } from '../../src/engine/engine.js';
import { planDeploy } from '../../src/engine/plan.js';
import { createAwsProvider } from '../../src/providers/aws/index.js';
import { awsQuotaUse } from '../../src/providers/aws/quotas.js';
import type { AwsConnection } from '../../src/providers/aws/clients.js';
import type { Provider } from '../../src/providers/provider.js';
import type { EnvironmentConfig } from '../../src/spec/types.js';
import { SqliteStateStore } from '../../src/state/sqlite/store.js';
import { awsSpec, CLUSTER, initStaging, rawClients, type RawClients } from '../helpers/aws-env.js';
import { motoConnection, STAGING_ACCOUNT, startMoto, type MotoServer } from '../helpers/moto.js';
import { startQuotaProxy, type QuotaProxy } from '../helpers/quota-proxy.js';

const SERVICES = 150;
const PARALLEL = 12;
const dir = mkdtempSync(join(tmpdir(), 'berth-alb-pool-'));
let stores = 0;

let moto: MotoServer;
let proxy: QuotaProxy;
let front: MotoServer;
let env: EnvironmentConfig;
let raw: RawClients;
const closers: (() => Promise<void>)[] = [];

function connection(): AwsConnection {
  return { ...motoConnection(front, STAGING_ACCOUNT), retry: { rateLimits: 'off' } };
}

async function openEngine(): Promise<{ engine: Engine; provider: Provider; store: SqliteStateStore }> {
  const provider = await createAwsProvider(env, { connection: connection() });
  const store = SqliteStateStore.open(join(dir, `state-${stores++}.db`));
  closers.push(async () => {
    await provider.close();
    await store.close();
  });
  return { engine: new Engine({ store, provider, env }), provider, store };
}

beforeAll(async () => {
  moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
  proxy = await startQuotaProxy(moto.endpoint, { rulesPerAlb: 100 });
  front = { ...moto, endpoint: proxy.endpoint };
  env = await initStaging(front);
  raw = rawClients(front);
}, 60_000);

afterAll(async () => {
  for (const close of closers) await close();
  raw?.destroy();
  await proxy?.close();
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

/** How many rules the first ALB holds once every service is placed (set by the first test). */
let firstAlbRules = 0;

const name = (i: number) => `svc${String(i).padStart(3, '0')}`;

async function pool(n: number, width: number, work: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

async function loadBalancers(): Promise<LoadBalancer[]> {
  const out = await raw.elbv2.send(new DescribeLoadBalancersCommand({}));
  return (out.LoadBalancers ?? []).filter((lb) => lb.LoadBalancerName?.startsWith(CLUSTER));
}

async function rulesOf(lb: LoadBalancer) {
  const listener = (
    await raw.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }))
  ).Listeners![0]!;
  const out = await raw.elbv2.send(
    new DescribeRulesCommand({ ListenerArn: listener.ListenerArn, PageSize: 400 }),
  );
  return (out.Rules ?? []).filter((rule) => !rule.IsDefault);
}

describe('a pool of load balancers (rule quota enforced in front of moto)', () => {
  it(`deploys ${SERVICES} services, one rule each, across two ALBs; DNS and plans name each one's ALB`, async () => {
    const { engine, provider, store } = await openEngine();
    const failures: string[] = [];
    const started = Date.now();
    await pool(SERVICES, PARALLEL, async (i) => {
      const outcome = await engine.deploy(awsSpec({ name: name(i) }), { healthDeadlineMs: 60_000 });
      if (outcome.operation.status !== 'succeeded') failures.push(`${name(i)}: ${outcome.operation.error}`);
    });
    console.log(`${SERVICES} deploys in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(failures).toEqual([]);
    expect(proxy.refused).toBe(0); // berth never asked for a rule beyond the quota

    const lbs = await loadBalancers();
    expect(lbs.map((lb) => lb.LoadBalancerName).sort()).toEqual([CLUSTER, `${CLUSTER}-2`]);
    const ruleCounts = new Map<string, number>();
    const albOfHost = new Map<string, LoadBalancer>();
    for (const lb of lbs) {
      const rules = await rulesOf(lb);
      ruleCounts.set(lb.LoadBalancerName!, rules.length);
      for (const rule of rules) {
        for (const host of rule.Conditions?.find((c) => c.Field === 'host-header')?.HostHeaderConfig
          ?.Values ?? [])
          albOfHost.set(host, lb);
      }
    }
    // One rule per service; the first ALB filled up to its quota less the 10% reserve. Deploys placed
    // at the same moment may open the second ALB a few rules early, never late.
    firstAlbRules = ruleCounts.get(CLUSTER)!;
    expect(firstAlbRules).toBeLessThanOrEqual(90);
    expect(firstAlbRules).toBeGreaterThanOrEqual(90 - PARALLEL);
    expect(ruleCounts.get(`${CLUSTER}-2`)).toBe(SERVICES - firstAlbRules);

    // Each service's CNAME points at the ALB its rule is on.
    const records = (
      await raw.route53.send(
        new ListResourceRecordSetsCommand({ HostedZoneId: env.aws!.hostedZoneId!, MaxItems: 1000 }),
      )
    ).ResourceRecordSets!.filter((r) => r.Type === 'CNAME');
    expect(records).toHaveLength(SERVICES);
    for (const record of records) {
      const host = record.Name!.replace(/\.$/, '');
      const lb = albOfHost.get(host);
      expect(lb, host).toBeDefined();
      expect(record.ResourceRecords![0]!.Value!.replace(/\.$/, '').toLowerCase()).toBe(
        lb!.DNSName!.toLowerCase(),
      );
    }

    // The plan of every service says which ALB its route is on (and that nothing changes).
    const where = new Map<string, number>();
    await pool(SERVICES, PARALLEL, async (i) => {
      const changes = await planDeploy(store, provider, env, awsSpec({ name: name(i) }));
      const route = changes.find((c) => c.kind === 'route')!;
      expect(route.action).toBe('unchanged');
      expect(route.location).toMatch(new RegExp(`^load balancer ${CLUSTER}(-2)?$`));
      where.set(route.location!, (where.get(route.location!) ?? 0) + 1);
    });
    expect(Object.fromEntries(where)).toEqual({
      [`load balancer ${CLUSTER}`]: firstAlbRules,
      [`load balancer ${CLUSTER}-2`]: SERVICES - firstAlbRules,
    });

    // A new generation joins its service's rule: still one rule per service.
    const again = await engine.deploy(awsSpec({ name: name(0), image: 'registry.example.test/web:2' }), {
      healthDeadlineMs: 60_000,
    });
    expect(again.operation.status, again.operation.error ?? '').toBe('succeeded');
    expect((await rulesOf(lbs.find((lb) => lb.LoadBalancerName === CLUSTER)!)).length).toBe(firstAlbRules);
  }, 600_000);

  it('env show reports the use of each quota: rules and target groups per ALB, ALBs and target groups per region', async () => {
    const rows = await awsQuotaUse(env, { connection: connection() });
    const row = (quota: string, scope: string) => rows.find((r) => r.quota === quota && r.scope === scope);
    expect(row('Rules per Application Load Balancer', CLUSTER)).toMatchObject({
      used: firstAlbRules,
      limit: 100,
      berthStopsAt: 90,
    });
    expect(row('Rules per Application Load Balancer', `${CLUSTER}-2`)).toMatchObject({
      used: SERVICES - firstAlbRules,
    });
    expect(row('Target groups per Application Load Balancer', CLUSTER)).toMatchObject({
      used: firstAlbRules,
      adjustable: false,
    });
    expect(row('Application Load Balancers per Region', 'eu-west-1')).toMatchObject({ used: 2, limit: 20 });
    expect(row('Target groups per Region', 'eu-west-1')).toMatchObject({ used: SERVICES, limit: 3000 });
    expect(rows.find((r) => r.quota === 'Route 53 health checks per account')).toMatchObject({
      used: SERVICES,
    });
  }, 60_000);

  it('a rule AWS refuses fails the deploy naming the quota, and leaves no target group or task definition', async () => {
    const { engine } = await openEngine();
    // AWS's quota turns out lower than berth believed (another tool's rules, say): the next rule is refused.
    const second = (await loadBalancers()).find((lb) => lb.LoadBalancerName === `${CLUSTER}-2`)!;
    proxy.rulesPerAlb = (await rulesOf(second)).length;
    try {
      const outcome = await engine.deploy(awsSpec({ name: 'late' }), { healthDeadlineMs: 30_000 });
      expect(outcome.operation.status).toBe('failed');
      expect(outcome.operation.error).toMatch(/Rules per Application Load Balancer/);
    } finally {
      proxy.rulesPerAlb = 100;
    }
    const groups = (await raw.elbv2.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? [];
    expect(groups.filter((g) => g.TargetGroupName!.startsWith('late-'))).toEqual([]);
    const services = await raw.ecs.send(
      new DescribeServicesCommand({ cluster: CLUSTER, services: ['late-staging-g1'] }),
    );
    expect(services.services?.filter((s) => s.status === 'ACTIVE') ?? []).toEqual([]);
    const families = await raw.ecs.send(
      new ListTaskDefinitionsCommand({ familyPrefix: 'berth-staging-late', status: 'ACTIVE' }),
    );
    expect(families.taskDefinitionArns ?? []).toEqual([]);
  }, 120_000);

  it('a deploy that fits nowhere is refused before it changes anything, naming the quota to raise', async () => {
    // Both ALBs full at a quota of 60 rules, and the region allows no third ALB.
    proxy.accountLimits = { 'rules-per-application-load-balancer': 60, 'application-load-balancers': 2 };
    try {
      const { engine } = await openEngine();
      const before = ((await raw.elbv2.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? []).length;
      const outcome = await engine.deploy(awsSpec({ name: 'nofit' }), { healthDeadlineMs: 30_000 });
      expect(outcome.operation.status).toBe('failed');
      expect(outcome.operation.error).toMatch(/Application Load Balancers per Region/);
      expect(outcome.operation.error).toMatch(/Service Quotas/);
      const after = ((await raw.elbv2.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? []).length;
      expect(after).toBe(before);
      expect((await loadBalancers()).length).toBe(2);
    } finally {
      proxy.accountLimits = {};
    }
  }, 120_000);
});
