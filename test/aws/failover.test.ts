/**
 * Two control planes on one DynamoDB table and one AWS environment (a real moto server):
 * - two reconcilers (different owners): only the lease holder acts; when it dies without
 *   releasing its lease (its process "killed": every store call fails from then on), the other
 *   takes over within the lease time and repairs;
 * - two engines racing to deploy the same service: exactly one operation runs, the other is
 *   refused naming it;
 * - no operation's steps run twice, and no two operations of the service overlap (from the events
 *   and the operation records).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteHealthCheckCommand, ListHealthChecksCommand } from '@aws-sdk/client-route-53';
import {
  DeleteRuleCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';

import { Engine } from '../../src/engine/engine.js';
import { startReconciler, type Reconciler } from '../../src/reconciler/index.js';
import type { Provider } from '../../src/providers/provider.js';
import type { EnvironmentConfig } from '../../src/spec/types.js';
import type { DynamoStateStore } from '../../src/state/dynamodb/store.js';
import { ActiveOperationError, type EventRecord, type StateStore } from '../../src/state/store.js';
import {
  awsSpec,
  CLUSTER,
  initStaging,
  openPlane,
  rawClients,
  stepRuns,
  waitFor,
  type RawClients,
} from '../helpers/aws-env.js';
import { startMoto, type MotoServer } from '../helpers/moto.js';

/** Owners on other hosts: berth cannot tell whether they are alive, so only the lease decides. */
const OWNER_A = 'plane-a.example.test/101/aaaaaa';
const OWNER_B = 'plane-b.example.test/202/bbbbbb';
const LEASE_TTL_MS = 3_000;

type Plane = { store: DynamoStateStore; provider: Provider; close(): Promise<void> };

let moto: MotoServer;
let env: EnvironmentConfig;
let planeA: Plane;
let planeB: Plane;
let raw: RawClients;
const reconcilers: Reconciler[] = [];
const events: EventRecord[] = [];

beforeAll(async () => {
  moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
  env = await initStaging(moto);
  planeA = await openPlane(moto, env);
  planeB = await openPlane(moto, env);
  raw = rawClients(moto);
}, 60_000);

afterAll(async () => {
  for (const reconciler of reconcilers) await reconciler.stop();
  raw?.destroy();
  await planeA?.close();
  await planeB?.close();
  await moto?.stop();
}, 30_000);

/**
 * A store whose process can be "killed": from then on every call fails and nothing is written,
 * so its lease is never released nor renewed (as after SIGKILL or a lost network).
 */
function killable(store: StateStore): { store: StateStore; kill(): void } {
  let killed = false;
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (killed) return Promise.reject(new Error('this control plane was killed'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, kill: () => (killed = true) };
}

function watch(store: StateStore, provider: Provider, owner: string): Reconciler {
  const reconciler = startReconciler({
    store,
    provider,
    env,
    owner,
    resyncMs: 300,
    leaseTtlMs: LEASE_TTL_MS,
    repairBackoffMs: 500,
    onEvent: (event) => events.push(event),
  });
  reconcilers.push(reconciler);
  return reconciler;
}

const reconcilerOf = (event: EventRecord) => (event.data as { reconciler?: string } | null)?.reconciler;

async function listenerArn(): Promise<string> {
  const lb = (await raw.elbv2.send(new DescribeLoadBalancersCommand({ Names: [CLUSTER] })))
    .LoadBalancers![0]!;
  return (await raw.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn })))
    .Listeners![0]!.ListenerArn!;
}

async function inSync(engine: Engine): Promise<void> {
  await waitFor(
    'web InSync and Healthy',
    async () => {
      const [status] = await engine.status('web');
      return status?.sync === 'InSync' && status.health === 'Healthy';
    },
    30_000,
    250,
  );
}

describe('two control planes on one table (moto)', () => {
  it('only the leader repairs; when it dies holding the lease, the other takes over within the lease time and repairs', async () => {
    const engineA = new Engine({ store: planeA.store, provider: planeA.provider, env });
    const deployed = await engineA.deploy(awsSpec(), { healthDeadlineMs: 10_000 });
    expect(deployed.operation.status, deployed.operation.error ?? '').toBe('succeeded');

    const a = killable(planeA.store);
    const reconcilerA = watch(a.store, planeA.provider, OWNER_A);
    await waitFor('A to lead', () => reconcilerA.status().leader, 10_000);
    const reconcilerB = watch(planeB.store, planeB.provider, OWNER_B);
    await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS / 2));
    expect(reconcilerB.status().leader).toBe(false);

    // Drift while A leads: A repairs it, B does nothing.
    let from = events.length;
    const [check] = (await raw.route53.send(new ListHealthChecksCommand({}))).HealthChecks!;
    await raw.route53.send(new DeleteHealthCheckCommand({ HealthCheckId: check!.Id! }));
    await waitFor(
      'A to repair the health check',
      () => events.slice(from).find((e) => e.type === 'drift.repaired'),
      30_000,
    );
    await inSync(engineA);
    const seenByA = events.slice(from).filter((e) => e.type === 'drift.seen');
    expect(seenByA.length).toBeGreaterThan(0);
    expect(seenByA.every((e) => reconcilerOf(e) === OWNER_A)).toBe(true);
    expect(events.some((e) => reconcilerOf(e) === OWNER_B)).toBe(false);
    expect(reconcilerB.status().services).toEqual([]); // a standby drops every key

    // A dies holding the lease (nothing released). B takes over once the lease expires.
    const lease = (await planeB.store.getLease('reconciler/staging'))!;
    expect(lease.owner).toBe(OWNER_A);
    a.kill();
    const killedAt = Date.now();
    from = events.length;
    const leading = await waitFor(
      'B to lead',
      () => events.slice(from).find((e) => e.type === 'reconciler.leading' && reconcilerOf(e) === OWNER_B),
      LEASE_TTL_MS * 3,
    );
    const takeoverMs = Date.parse(leading.time) - killedAt;
    console.log(`takeover ${takeoverMs} ms after the leader died (lease ${LEASE_TTL_MS} ms)`);
    // Within the lease's life (plus one renewal period of B, which polls every third of it).
    expect(takeoverMs).toBeLessThanOrEqual(LEASE_TTL_MS + LEASE_TTL_MS / 3 + 1_000);
    expect(Date.parse(leading.time)).toBeGreaterThanOrEqual((lease.expiresAt ?? 0) - 50);
    const next = (await planeB.store.getLease('reconciler/staging'))!;
    expect(next).toMatchObject({ owner: OWNER_B, token: lease.token + 1 });

    // Drift after the takeover: B repairs it.
    from = events.length;
    const rules = (await raw.elbv2.send(new DescribeRulesCommand({ ListenerArn: await listenerArn() })))
      .Rules!;
    const route = rules.find((r) => r.Conditions?.some((c) => c.Field === 'host-header'))!;
    await raw.elbv2.send(new DeleteRuleCommand({ RuleArn: route.RuleArn! }));
    await waitFor(
      'B to repair the route',
      () => events.slice(from).find((e) => e.type === 'drift.repaired'),
      30_000,
    );
    await inSync(new Engine({ store: planeB.store, provider: planeB.provider, env }));
    const seenByB = events.slice(from).filter((e) => e.type === 'drift.seen');
    expect(seenByB.length).toBeGreaterThan(0);
    expect(seenByB.every((e) => reconcilerOf(e) === OWNER_B)).toBe(true);
  }, 90_000);

  it('two engines racing to deploy the same service: one operation runs, the other is refused naming it', async () => {
    const engines = [planeA, planeB].map(
      (plane) => new Engine({ store: plane.store, provider: plane.provider, env }),
    );
    const before = (await planeB.store.listOperations('staging', 'web')).length;
    const spec = awsSpec({ image: 'registry.example.test/web:2' });
    const outcomes = await Promise.allSettled(
      engines.map((engine) => engine.deploy(spec, { healthDeadlineMs: 10_000 })),
    );
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o) => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<Engine['deploy']>>>).value.operation;
    expect(winner.status, winner.error ?? '').toBe('succeeded');
    const refusal = (lost[0] as PromiseRejectedResult).reason as Error;
    expect(refusal).toBeInstanceOf(ActiveOperationError);
    expect(refusal.message).toContain(winner.id);

    // One deploy operation was made; the refused one left none behind.
    const deploys = (await planeB.store.listOperations('staging', 'web'))
      .slice(0, -before || undefined)
      .filter((op) => op.kind === 'deploy');
    expect(deploys.map((op) => op.id)).toEqual([winner.id]);
  }, 60_000);

  it('no operation ran a step twice, and no two operations of the service overlapped', async () => {
    const stored = await planeB.store.listEvents({ env: 'staging', limit: 100_000 });
    expect(stored.length).toBeGreaterThan(0);
    for (const [key, runs] of stepRuns(stored)) {
      expect(runs.succeeded, key).toBeLessThanOrEqual(1);
      expect(runs.started, key).toBe(1); // nothing here needed a retry, so each step started once
    }
    const started = stored.filter((e) => e.type === 'operation.started' || e.type === 'operation.resumed');
    const byOperation = new Map<string, number>();
    for (const event of started)
      byOperation.set(event.operationId!, (byOperation.get(event.operationId!) ?? 0) + 1);
    expect([...byOperation.values()].every((n) => n === 1)).toBe(true);

    const operations = (await planeB.store.listOperations('staging', 'web'))
      .filter((op) => op.startedAt && op.finishedAt)
      .sort((x, y) => Date.parse(x.startedAt!) - Date.parse(y.startedAt!));
    expect(operations.length).toBeGreaterThanOrEqual(4); // deploy, two repairs, the racing deploy
    for (let i = 1; i < operations.length; i++) {
      expect(Date.parse(operations[i]!.startedAt!)).toBeGreaterThanOrEqual(
        Date.parse(operations[i - 1]!.finishedAt!),
      );
    }
  });
});
