// One full observation sweep of an AWS environment, as the reconciler makes every resync, for
// N = 100 and 1,000 services on a moto server: API calls per family, wall time, and the share of
// AWS's throttle budgets (notes/aws.md) that a sweep every 30 s (the AWS default resync) would use.
//   npm run bench:aws                 (SIZES=100,1000 by default)
// For each N it makes, tagged as berth's, N ECS services (one target group each), N Route 53
// CNAME + TXT tag records, N Route 53 health checks, and min(N, 100) host-header listener rules
// (an ALB holds at most 100 rules). Each kind's observeAll is timed alone (throttle buckets full;
// the provider's first sweep: cold caches), then the whole sweep (all kinds at once, as
// observeEnvironment does) warm, as every later resync. berth's client-side rate limits stay on: the wall times include the
// waits that keep a sweep within AWS's budgets. Loopback only; moto is stopped at the end.
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

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SIZES = (process.env.SIZES ?? '100,1000').split(',').map(Number);
const RESYNC_S = 30;
const MAX_RULES = 100;
const DEADLINE_MS = 15 * 60_000;
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

/** Counts every attempt of every call by family and by "service:Command". */
class Counter {
  constructor() {
    this.calls = new Map();
  }
  install(stack, service) {
    stack.add(
      (next, context) => async (args) => {
        const command = context.commandName ?? '?';
        const key = `${service}:${command.replace(/Command$/, '')}`;
        this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
        return next(args);
      },
      { step: 'build', name: 'benchCounter' },
    );
  }
  reset() {
    this.calls.clear();
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
      aws: { accountId: ACCOUNT, region: REGION, endpoint: moto.endpoint, hostedZoneId, domain: DOMAIN },
    };
    const report = await bootstrapAwsEnvironment(env, { connection: { credentials: CREDENTIALS } });
    const { cluster, listenerArn, vpcId, subnets, securityGroups } = report.settings;
    const lb = (await elbv2.send(new DescribeLoadBalancersCommand({ Names: [`berth-${ENV}`] })))
      .LoadBalancers[0];
    const albDns = lb.DNSName.toLowerCase();
    void (await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn })));

    const ecsTags = (tags) => Object.entries(tags).map(([key, value]) => ({ key, value }));
    const elbTags = (tags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    const name = (i) => `svc${i}`;
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
          Name: `${name(i)}-bench-g1`,
          Protocol: 'HTTP',
          Port: 8080,
          VpcId: vpcId,
          TargetType: 'ip',
          Tags: elbTags(tags),
        }),
      );
      groups[i] = group.TargetGroups[0].TargetGroupArn;
      await ecs.send(
        new CreateServiceCommand({
          cluster,
          serviceName: `${name(i)}-${ENV}-g1`,
          taskDefinition: task.taskDefinition.taskDefinitionArn,
          desiredCount: 1,
          launchType: 'FARGATE',
          networkConfiguration: { awsvpcConfiguration: { subnets, securityGroups } },
          loadBalancers: [{ targetGroupArn: groups[i], containerName: 'app', containerPort: 8080 }],
          tags: ecsTags(tags),
        }),
      );
    });
    const rules = Math.min(n, MAX_RULES);
    for (let i = 0; i < rules; i++) {
      await elbv2.send(
        new CreateRuleCommand({
          ListenerArn: listenerArn,
          Priority: i + 1,
          Conditions: [
            { Field: 'host-header', HostHeaderConfig: { Values: [`${name(i)}.${ENV}.${DOMAIN}`] } },
          ],
          Actions: [{ Type: 'forward', TargetGroupArn: groups[i] }],
          Tags: elbTags(berthTags(ENV, name(i), 1)),
        }),
      );
    }
    // CNAME + TXT per name; a batch holds at most 1,000 records and an UPSERT counts twice.
    for (let start = 0; start < n; start += 200) {
      const changes = [];
      for (let i = start; i < Math.min(n, start + 200); i++) {
        const host = `${name(i)}.${ENV}.${DOMAIN}`;
        changes.push(
          {
            Action: 'UPSERT',
            ResourceRecordSet: { Name: host, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: albDns }] },
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
    await pool(n, 8, async (i) => {
      const check = await route53.send(
        new CreateHealthCheckCommand({
          CallerReference: `berth-bench-${n}-${i}`,
          HealthCheckConfig: {
            Type: 'HTTP',
            FullyQualifiedDomainName: `${name(i)}.${ENV}.${DOMAIN}`,
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
    return { env, rules };
  } finally {
    ecs.destroy();
    elbv2.destroy();
    route53.destroy();
  }
}

const KINDS = ['compute', 'route', 'dns', 'healthcheck'];
const BUDGETED = ['ecs-read', 'elbv2-read', 'route53'];

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

async function measure(moto, n) {
  await moto.reset();
  const populateStarted = performance.now();
  const { env, rules } = await populate(moto, n);
  const populateMs = performance.now() - populateStarted;
  const counter = new Counter();
  const provider = await createAwsProvider(env, {
    connection: { credentials: CREDENTIALS, customize: (stack, service) => counter.install(stack, service) },
  });
  const lines = [];
  const print = (line) => {
    lines.push(line);
    console.log(line);
  };
  try {
    print(
      `N = ${n}: ${n} ECS services + target groups, ${rules} listener rules, ${n} CNAME+TXT, ${n} health checks (made in ${(populateMs / 1000).toFixed(1)} s)`,
    );
    const refill = () => sleep(5_500); // every bucket back to its burst
    const sweep = async (label, work) => {
      await refill();
      counter.reset();
      const started = performance.now();
      const found = await work();
      const ms = performance.now() - started;
      const calls = [...counter.calls].sort().map(([k, v]) => `${k} ${v}`);
      print(
        `  ${label.padEnd(22)} ${String(counter.total()).padStart(5)} calls ${ms.toFixed(0).padStart(7)} ms  found ${found}  [${calls.join(', ')}]`,
      );
      return counter.byFamily();
    };
    for (const kind of KINDS) {
      await sweep(
        `observeAll ${kind}`,
        async () => (await provider.drivers[kind].observeAll({ env: ENV })).length,
      );
    }
    const countAll = async () => {
      const observation = await observeEnvironment(provider, ENV);
      return [...observation.values()].reduce(
        (sum, kinds) => sum + KINDS.reduce((s, k) => s + kinds[k].length, 0),
        0,
      );
    };
    // The sweeps above were the provider's first (cold): they read every task definition (here
    // one, shared) and every health check's tags. A warm sweep, as every later resync, reads only
    // what it has not seen (plus one batch of health check tags in turn).
    const families = await sweep('full sweep (warm)', countAll);
    print(`  budget share at one sweep per ${RESYNC_S} s: ${budgetLine(families)}`);
    const pages = Math.ceil(n / 100);
    if (pages > 1 && counter.calls.get('ecs:ListServices') === 1) {
      print(
        `  (moto ignores ListServices maxResults: AWS pages 100 at a time, ${pages - 1} more ecs-read calls)`,
      );
    }
    return lines;
  } finally {
    await provider.close();
  }
}

const moto = await startMotoServer({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
const deadline = setTimeout(() => {
  console.error(`bench:aws did not finish within ${DEADLINE_MS / 60_000} min: stopping`);
  void moto.stop().finally(() => process.exit(1));
}, DEADLINE_MS);
process.once('SIGINT', () => void moto.stop().finally(() => process.exit(130)));
try {
  console.log(
    `moto on ${moto.endpoint}; AWS budgets (notes/aws.md): ECS reads 20/s, ELBv2 reads 10/s, Route 53 5/s`,
  );
  for (const n of SIZES) await measure(moto, n);
} finally {
  clearTimeout(deadline);
  await moto.stop();
}
