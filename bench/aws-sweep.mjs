// The reconciler's whole sweep of an AWS environment, as it runs every resync: observation of
// every resource kind plus the reads of berth's own state in DynamoDB, for N = 1,000 and 10,000
// services on a moto server: AWS calls (all of them, DynamoDB included) per service and per
// family, wall time, and the share of AWS's throttle budgets (notes/aws.md) that a sweep every
// 30 s (the AWS default resync) would use.
//   npm run bench:aws                 (SIZES=1000,10000 by default)
// For each N it makes, tagged as berth's, N ECS services (one target group each), one listener
// rule per service on a pool of ALBs (90 rules each, as berth fills them), N Route 53 CNAME + TXT
// tag records, N Route 53 health checks, and berth's record of each service in a DynamoDB table
// (service, revision, finished deploy, inventory), all as a deploy leaves them: the sweep finds
// no drift. Each kind's observeAll is timed alone once (the provider's first sweep: cold caches),
// then whole sweeps as the reconciler makes them (sweep(): observeEnvironment and, at the same
// time, the bulk read of the state, then detect(), which examines every service): the first of a
// new control plane (cold), later ones (warm), and one that reads every service record in full
// (the store does so every 5 minutes). berth's client-side rate limits stay on: the wall times include the waits
// that keep a sweep within AWS's budgets. Loopback only; moto is stopped at the end.
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
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startMotoServer } from '../test/helpers/moto-server.mjs';
import { addPoolMembers, elbTags } from './support/alb-pool.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SIZES = (process.env.SIZES ?? '1000,10000').split(',').map(Number);
/** Calls per service per sweep that the sweep must stay within (issue 13). */
const GOAL_CALLS_PER_SERVICE = 0.15;
const GOAL_SECONDS_AT_10000 = 15;
const RESYNC_S = 30;
/** Rules berth puts on one ALB before it adds the next (pool.ts fills each to 90%). */
const RULES_PER_ALB = 90;
const TABLE = 'berth-state';
const DEADLINE_MS = 45 * 60_000;
const ACCOUNT = '123456789012'; // moto's default account
const REGION = 'eu-west-1';
const ENV = 'bench';
const DOMAIN = 'bench.example.test';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

const { bootstrapAwsEnvironment } = await import(join(ROOT, 'dist/providers/aws/bootstrap.js'));
const { createAwsProvider } = await import(join(ROOT, 'dist/providers/aws/index.js'));
const { API_FAMILIES, apiFamily } = await import(join(ROOT, 'dist/providers/aws/throttle.js'));
const { tagsToTxt } = await import(join(ROOT, 'dist/providers/aws/dns.js'));
const { observeEnvironment } = await import(join(ROOT, 'dist/engine/drift.js'));
const { berthTags } = await import(join(ROOT, 'dist/core/tags.js'));
const { targetGroupName, ecsServiceName } = await import(join(ROOT, 'dist/providers/aws/shared.js'));
const {
  sweep: sweepOnce,
  memoryTable,
  ENVIRONMENT_KEY,
} = await import(join(ROOT, 'dist/reconciler/reconcile.js'));
const { DynamoStateStore } = await import(join(ROOT, 'dist/state/dynamodb/store.js'));
const { createDynamoClient, ensureTable } = await import(join(ROOT, 'dist/state/dynamodb/table.js'));
const { DynamoDBDocumentClient, BatchWriteCommand } = await import('@aws-sdk/lib-dynamodb');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work(i)` for i < n, `width` at a time. */
async function pool(n, width, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

/**
 * Counts every attempt of every call by family and by "service:Command", and the time each kind
 * of call took once past berth's rate limits (moto serves one request at a time, so this is
 * where the server's time goes).
 */
class Counter {
  constructor() {
    this.calls = new Map();
    this.ms = new Map();
  }
  install(stack, service) {
    stack.add(
      (next, context) => async (args) => {
        const command = context.commandName ?? '?';
        const key = `${service}:${command.replace(/Command$/, '')}`;
        this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
        const started = performance.now();
        try {
          return await next(args);
        } finally {
          this.ms.set(key, (this.ms.get(key) ?? 0) + performance.now() - started);
        }
      },
      { step: 'build', name: 'benchCounter' },
    );
  }
  reset() {
    this.calls.clear();
    this.ms.clear();
  }
  /** The calls that took longest in all, with their total time. */
  slowest(count = 6) {
    return [...this.ms]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([key, ms]) => `${key} ${(ms / 1000).toFixed(1)} s`)
      .join(', ');
  }
  byFamily() {
    const families = new Map();
    for (const [key, n] of this.calls) {
      const [service, command] = key.split(':');
      const family = apiFamily(service, `${command}Command`);
      families.set(family, (families.get(family) ?? 0) + n);
    }
    return families;
  }
  total() {
    return [...this.calls.values()].reduce((a, b) => a + b, 0);
  }
}

/** The spec every bench service is deployed from (what the populated resources match). */
function specOf(name) {
  return {
    name,
    image: 'registry.example.test/app:1',
    port: 8080,
    replicas: 1,
    health: {
      path: '/healthz',
      intervalMs: 30_000,
      timeoutMs: 5_000,
      healthyThreshold: 3,
      unhealthyThreshold: 3,
    },
    domains: [],
    env: {},
    protection: { deletion: false },
    drift: 'heal',
  };
}

const name = (i) => `svc${String(i).padStart(5, '0')}`;
const hostOf = (i) => `${name(i)}.${ENV}.${DOMAIN}`;

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
      drift: 'heal',
      aws: { accountId: ACCOUNT, region: REGION, endpoint: moto.endpoint, hostedZoneId, domain: DOMAIN },
    };
    const report = await bootstrapAwsEnvironment(env, { connection: { credentials: CREDENTIALS } });
    const { cluster, listenerArn, vpcId, subnets, securityGroups } = report.settings;
    const first = (await elbv2.send(new DescribeLoadBalancersCommand({ Names: [`berth-${ENV}`] })))
      .LoadBalancers[0];
    const firstListener = (
      await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: first.LoadBalancerArn }))
    ).Listeners[0];
    // The pool: one ALB (and listener) per 90 services, named as berth names them.
    const albs = [
      { dns: first.DNSName.toLowerCase(), listenerArn: listenerArn ?? firstListener.ListenerArn },
    ];
    albs.push(
      ...(await addPoolMembers(elbv2, {
        env: ENV,
        count: n,
        perAlb: RULES_PER_ALB,
        subnets,
        securityGroups,
        tags: Object.fromEntries(Object.entries(berthTags(ENV, '', 0)).filter(([, value]) => value !== '')),
        defaultActions: firstListener.DefaultActions,
      })),
    );
    const albOf = (i) => albs[Math.floor(i / RULES_PER_ALB)];

    const task = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: `berth-${ENV}-bench`,
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '256',
        memory: '512',
        containerDefinitions: [
          { name: 'app', image: 'registry.example.test/app:1', portMappings: [{ containerPort: 8080 }] },
        ],
      }),
    );
    const groups = [];
    await pool(n, 8, async (i) => {
      const tags = berthTags(ENV, name(i), 1);
      const group = await elbv2.send(
        new CreateTargetGroupCommand({
          Name: targetGroupName(ENV, name(i), 1),
          Protocol: 'HTTP',
          Port: 8080,
          VpcId: vpcId,
          TargetType: 'ip',
          HealthCheckPath: '/healthz',
          HealthCheckIntervalSeconds: 30,
          HealthCheckTimeoutSeconds: 5,
          HealthyThresholdCount: 3,
          UnhealthyThresholdCount: 3,
          Tags: elbTags(tags),
        }),
      );
      groups[i] = group.TargetGroups[0].TargetGroupArn;
      await ecs.send(
        new CreateServiceCommand({
          cluster,
          serviceName: ecsServiceName(ENV, name(i), 1),
          taskDefinition: task.taskDefinition.taskDefinitionArn,
          desiredCount: 1,
          launchType: 'FARGATE',
          networkConfiguration: { awsvpcConfiguration: { subnets, securityGroups } },
          loadBalancers: [{ targetGroupArn: groups[i], containerName: 'app', containerPort: 8080 }],
          tags: ecsTags(tags),
        }),
      );
      await elbv2.send(
        new CreateRuleCommand({
          ListenerArn: albOf(i).listenerArn,
          Priority: (i % RULES_PER_ALB) + 1,
          Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: [hostOf(i)] } }],
          Actions: [{ Type: 'forward', TargetGroupArn: groups[i] }],
          Tags: elbTags(tags),
        }),
      );
    });
    // CNAME + TXT per name; a batch holds at most 1,000 records and an UPSERT counts twice.
    for (let start = 0; start < n; start += 200) {
      const changes = [];
      for (let i = start; i < Math.min(n, start + 200); i++) {
        changes.push(
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: hostOf(i),
              Type: 'CNAME',
              TTL: 60,
              ResourceRecords: [{ Value: albOf(i).dns }],
            },
          },
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: hostOf(i),
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
    await pool(n, 8, async (i) => {
      const check = await route53.send(
        new CreateHealthCheckCommand({
          CallerReference: `berth-bench-${n}-${i}`,
          HealthCheckConfig: {
            Type: 'HTTP',
            FullyQualifiedDomainName: hostOf(i),
            ResourcePath: '/healthz',
            Port: 80,
            RequestInterval: 30,
            FailureThreshold: 3,
          },
        }),
      );
      await route53.send(
        new ChangeTagsForResourceCommand({
          ResourceType: 'healthcheck',
          ResourceId: check.HealthCheck.Id,
          AddTags: elbTags(berthTags(ENV, name(i), 1)),
        }),
      );
    });
    return { env, albs: albs.length };
  } finally {
    ecs.destroy();
    elbv2.destroy();
    route53.destroy();
  }
}

function ecsTags(tags) {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

/**
 * berth's record of every service, as a deploy leaves it (service at revision 1, the revision,
 * a finished deploy with its steps, the inventory of four resources), written in batches of 25
 * items in the DynamoDB store's layout (src/state/dynamodb/store.ts): writing it through the
 * store, about ten calls per service on a moto that serves one request at a time, would take
 * longer than the sweeps. The bench then checks through the store that it reads what was written.
 */
async function populateState(moto, env, provider, n) {
  const connection = { region: REGION, endpoint: moto.endpoint, credentials: CREDENTIALS, maxAttempts: 3 };
  const raw = createDynamoClient({ ...connection, retry: { rateLimits: 'off' } });
  await ensureTable(raw, TABLE);
  const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const at = (offset) => new Date(Date.parse('2020-01-01T00:00:00.000Z') + offset).toISOString();
  const stepNames = [
    'check quotas',
    'ensure compute',
    'wait until healthy',
    'ensure route',
    'ensure dns',
    'ensure health check',
    'switch traffic',
    'clean up',
  ];
  const items = [];
  const flush = async (all) => {
    while (items.length >= (all ? 1 : 25)) {
      let requests = items.splice(0, 25).map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const out = await doc.send(new BatchWriteCommand({ RequestItems: { [TABLE]: requests } }));
        requests = out.UnprocessedItems?.[TABLE] ?? [];
      }
    }
  };
  for (let i = 0; i < n; i++) {
    const service = name(i);
    const spec = specOf(service);
    const created = at(i * 10);
    const finished = at(i * 10 + 5);
    const id = `op-bench-${i}`;
    items.push(
      {
        pk: `ENV#${ENV}`,
        sk: `SVC#${service}`,
        itemType: 'service',
        env: ENV,
        name: service,
        version: 3,
        currentRevision: 1,
        lastHealthyRevision: 1,
        generation: 1,
        status: 'active',
        createdAt: created,
        updatedAt: finished,
      },
      {
        pk: `REV#${ENV}#${service}`,
        sk: '0000000001',
        itemType: 'revision',
        env: ENV,
        service,
        number: 1,
        spec: JSON.stringify(spec),
        specHash: `hash-${i}`,
        origin: JSON.stringify({ kind: 'deploy' }),
        createdAt: created,
      },
      {
        pk: `OP#${id}`,
        sk: 'OP',
        itemType: 'operation',
        id,
        env: ENV,
        service,
        kind: 'deploy',
        status: 'succeeded',
        revision: 1,
        params: '{}',
        steps: JSON.stringify(
          stepNames.map((step) => ({
            name: step,
            status: 'succeeded',
            startedAt: created,
            finishedAt: finished,
            message: `${step}: done`,
            attempts: 1,
            checkpoint: null,
          })),
        ),
        leaseOwner: null,
        leaseExpiresAt: null,
        fencingToken: 1,
        cancelRequested: false,
        error: null,
        createdAt: created,
        startedAt: created,
        finishedAt: finished,
      },
      { pk: `OPS#${ENV}`, sk: `${created}#${id}`, itemType: 'operation-index', id, service },
      {
        pk: `LATEST#${ENV}`,
        sk: service,
        itemType: 'latest-operation',
        operationId: id,
        status: 'succeeded',
      },
    );
    for (const kind of KINDS) {
      for (const want of provider.desired(kind, { env, spec, generation: 1 })) {
        const providerId = `${kind}-${service}-${want.key}`;
        items.push({
          pk: `RES#${ENV}`,
          sk: `${service}#${kind}#${providerId}`,
          itemType: 'resource',
          env: ENV,
          service,
          kind,
          providerId,
          generation: 1,
          attributes: JSON.stringify(want.attributes),
          createdAt: created,
          updatedAt: finished,
        });
      }
    }
    await flush(false);
  }
  // The environment's operations marker, as the store leaves it after N deploys (it advances
  // after each operation starts and finishes): sweeps that find it unchanged skip two queries.
  items.push({ pk: `CHANGES#${ENV}`, sk: 'CHANGES', itemType: 'operations-marker', value: 2 * n });
  await flush(true);
  doc.destroy();
  raw.destroy();
}

const KINDS = ['compute', 'route', 'dns', 'healthcheck'];
const BUDGETED = ['ecs-read', 'elbv2-read', 'route53', 'dynamodb'];

function budgetLine(families) {
  return BUDGETED.map((family) => {
    const calls = families.get(family) ?? 0;
    const spec = API_FAMILIES[family];
    const share = calls / (spec.perSecond * RESYNC_S);
    // The least time the sweep needs within the budget: whatever exceeds the burst waits for refills.
    const floor = Math.max(0, calls - spec.burst) / spec.perSecond;
    return `${family} ${calls} calls = ${(share * 100).toFixed(1)}% of ${spec.perSecond}/s (min ${floor.toFixed(1)} s)`;
  }).join('; ');
}

/** The reconciler's dependencies for detection (it only reads and records; it never acts). */
function detectionDeps(store, provider, env, events) {
  return {
    store,
    provider,
    env,
    engine: null,
    observe: async () => {
      throw new Error('detection observes once, before it examines');
    },
    ...memoryTable(),
    emit: async (event) => {
      events.push(event);
      await store.appendEvent(event);
    },
    repairBackoff: { baseMs: 2_000, maxMs: 300_000 },
    now: () => Date.now(),
  };
}

async function measure(moto, n) {
  await moto.reset();
  const populateStarted = performance.now();
  const { env, albs } = await populate(moto, n);
  const setup = await createAwsProvider(env, { connection: { credentials: CREDENTIALS } });
  await populateState(moto, env, setup, n).finally(() => setup.close());
  const populateMs = performance.now() - populateStarted;
  const counter = new Counter();
  const connection = {
    credentials: CREDENTIALS,
    customize: (stack, service) => counter.install(stack, service),
  };
  const lines = [];
  const print = (line) => {
    lines.push(line);
    console.log(line);
  };
  print(
    `N = ${n}: ${n} ECS services + target groups, ${n} listener rules on ${albs} ALBs, ${n} CNAME+TXT, ${n} health checks, berth's record of ${n} services in DynamoDB (made in ${(populateMs / 1000).toFixed(1)} s)`,
  );
  const refill = () => sleep(5_500); // every bucket back to its burst
  const run = async (label, work) => {
    await refill();
    counter.reset();
    const started = performance.now();
    const found = await work();
    const ms = performance.now() - started;
    const calls = [...counter.calls].sort().map(([k, v]) => `${k} ${v}`);
    print(
      `  ${label.padEnd(24)} ${String(counter.total()).padStart(5)} calls ${ms.toFixed(0).padStart(7)} ms  ${found}  [${calls.join(', ')}]`,
    );
    print(`    time in calls (after the rate limits): ${counter.slowest()}`);
    return { families: counter.byFamily(), calls: counter.total(), ms };
  };

  // Each kind alone, on a provider of its own (its first sweep: cold caches); at 1,000 services
  // and below only (the cold sweep below shows the same calls together).
  if (n <= 2_000) {
    const provider = await createAwsProvider(env, { connection });
    try {
      for (const kind of KINDS) {
        await run(
          `observeAll ${kind}`,
          async () => `found ${(await provider.drivers[kind].observeAll({ env: ENV })).length}`,
        );
      }
    } finally {
      await provider.close();
    }
  }

  // Whole sweeps as the reconciler makes them, by a new control plane (first sweep: cold) and
  // then every resync (warm).
  const provider = await createAwsProvider(env, { connection });
  let skewMs = 0;
  let full;
  const store = await DynamoStateStore.open({
    clock: { now: () => Date.now() + skewMs },
    table: TABLE,
    connection: { ...connection, endpoint: moto.endpoint, region: REGION },
  });
  const events = [];
  // The bulk read's own time, to tell it from the examination's.
  let readMs = 0;
  const timedStore = Object.create(store, {
    readEnvironment: {
      value: async (name) => {
        const started = performance.now();
        try {
          return await store.readEnvironment(name);
        } finally {
          readMs = performance.now() - started;
        }
      },
    },
  });
  const deps = detectionDeps(timedStore, provider, env, events);
  let warm;
  try {
    // As the reconciler's detection pass: the state read overlaps the observation (sweep()).
    const sweep = async () => {
      let observedMs = 0;
      const { observation, detected } = await sweepOnce(deps, async () => {
        const at = Date.now();
        const data = await observeEnvironment(provider, ENV);
        observedMs = Date.now() - at;
        return { data, at };
      });
      const outcomes = new Map();
      for (const { key, result } of detected) {
        if (key === ENVIRONMENT_KEY) continue;
        const outcome = result?.outcome ?? 'to repair';
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      const found = [...observation.data.values()].reduce(
        (sum, kinds) => sum + KINDS.reduce((s, k) => s + kinds[k].length, 0),
        0,
      );
      return `found ${found}; observed in ${observedMs} ms, state read in ${readMs.toFixed(0)} ms (at the same time); ${[...outcomes].map(([o, c]) => `${c} ${o}`).join(', ')}; ${events.length} drift events`;
    };
    await run('sweep (cold)', sweep);
    // Three warm sweeps; the median one counts (a 2-core machine's other work shows in single runs).
    const warms = [];
    for (let i = 0; i < 3; i++) warms.push(await run('sweep (warm)', sweep));
    warm = warms.sort((a, b) => a.ms - b.ms)[1];
    // Every 5 minutes the store reads every service record again in full (to see records
    // changed outside an operation): such a sweep, the provider warm.
    skewMs += 5 * 60_000;
    full = await run('sweep (warm, full read)', sweep);
  } finally {
    await store.close();
    await provider.close();
  }
  const perService = warm.calls / n;
  print(`  budget share at one sweep per ${RESYNC_S} s: ${budgetLine(warm.families)}`);
  print(
    `  full-read sweep (every 5 min): ${(full.calls / n).toFixed(3)} AWS calls per service, ${(full.ms / 1000).toFixed(1)} s`,
  );
  print(
    `  warm sweep: ${perService.toFixed(3)} AWS calls per service (goal <= ${GOAL_CALLS_PER_SERVICE}: ${perService <= GOAL_CALLS_PER_SERVICE ? 'met' : 'NOT met'}), ${(warm.ms / 1000).toFixed(1)} s (median of 3)` +
      (n >= 10_000
        ? ` (goal <= ${GOAL_SECONDS_AT_10000} s: ${warm.ms / 1000 <= GOAL_SECONDS_AT_10000 ? 'met' : 'NOT met'})`
        : ''),
  );
  const pages = Math.ceil(n / 100);
  if (pages > 1 && (counter.calls.get('ecs:ListServices') ?? 0) === 1) {
    print(
      `  (moto ignores ListServices maxResults: AWS pages 100 at a time, ${pages - 1} more ecs-read calls, ${((warm.calls + pages - 1) / n).toFixed(3)} per service)`,
    );
  }
  return lines;
}

const moto = await startMotoServer({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
const deadline = setTimeout(() => {
  console.error(`bench:aws did not finish within ${DEADLINE_MS / 60_000} min: stopping`);
  void moto.stop().finally(() => process.exit(1));
}, DEADLINE_MS);
process.once('SIGINT', () => void moto.stop().finally(() => process.exit(130)));
try {
  const budgets = ['ecs-read', 'elbv2-read', 'route53', 'dynamodb']
    .map((family) => `${family} ${API_FAMILIES[family].perSecond}/s (burst ${API_FAMILIES[family].burst})`)
    .join(', ');
  console.log(`moto on ${moto.endpoint}; berth's client-side AWS budgets (notes/aws.md): ${budgets}`);
  for (const n of SIZES) await measure(moto, n);
} finally {
  clearTimeout(deadline);
  await moto.stop();
}
