/**
 * What real AWS does that moto hides, against recorded SDK responses (the shapes AWS answers with;
 * moto says every registered target is healthy and every Route 53 checker succeeds):
 * - a new task's target is `initial` (registration, then health checks) before it is `healthy`:
 *   the deploy's wait says so and waits for it;
 * - a leaving task's target is `draining` for the deregistration delay: a delete or replace does
 *   not remove its target group (cutting requests in flight) and says what it waits for;
 * - Route 53's checkers each report their own view: status says how many see the service healthy
 *   and why the others do not.
 */
import { describe, expect, it } from 'vitest';
import type { HealthCheckObservation } from '@aws-sdk/client-route-53';
import type { TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';

import { TransientError } from '../../src/core/errors.js';
import { berthTags } from '../../src/core/tags.js';
import { waitUntilHealthy } from '../../src/engine/health-wait.js';
import { DRAIN_RETRY } from '../../src/engine/steps.js';
import type { StepContext } from '../../src/engine/steps.js';
import {
  computeReadiness,
  DEREGISTRATION_DELAY_SECONDS,
  targetsPicture,
} from '../../src/providers/aws/compute.js';
import {
  awsHealthCheckDriver,
  checkerHealth,
  serviceReferencePrefix,
} from '../../src/providers/aws/healthcheck.js';
import type { AwsApis } from '../../src/providers/aws/shared.js';
import type { Provider } from '../../src/providers/provider.js';
import type { EnvironmentConfig } from '../../src/spec/types.js';
import { computeDriverOver } from '../helpers/recorded-aws.js';

const env = {
  name: 'staging',
  provider: 'aws',
  protected: false,
  color: 'yellow',
  drift: 'heal',
  aws: { accountId: '111111111111', region: 'eu-west-1' },
} as EnvironmentConfig;

const SERVICE_ARN = 'arn:aws:ecs:eu-west-1:111111111111:service/berth-staging/web-staging-g2';
const GROUP_ARN =
  'arn:aws:elasticloadbalancing:eu-west-1:111111111111:targetgroup/web-staging-g2/6d0ecf831eec9f09';

/** DescribeServices once ECS started both tasks (runningCount counts started containers). */
function runningService(status = 'ACTIVE') {
  return {
    $metadata: { httpStatusCode: 200 },
    services: [
      {
        serviceArn: SERVICE_ARN,
        serviceName: 'web-staging-g2',
        status,
        desiredCount: status === 'ACTIVE' ? 2 : 0,
        runningCount: 2,
        loadBalancers: [{ targetGroupArn: GROUP_ARN, containerName: 'app', containerPort: 8080 }],
        deployments: [{ status: 'PRIMARY', desiredCount: 2, runningCount: 2, rolloutState: 'IN_PROGRESS' }],
        tags: Object.entries(berthTags('staging', 'web', 2)).map(([key, value]) => ({ key, value })),
      },
    ],
    failures: [],
  };
}

/** A target as DescribeTargetHealth lists it. */
function target(ip: string, State: string, Reason?: string, Description?: string): TargetHealthDescription {
  return {
    Target: { Id: ip, Port: 8080, AvailabilityZone: 'eu-west-1a' },
    HealthCheckPort: '8080',
    TargetHealth: {
      State: State as 'healthy',
      ...(Reason ? { Reason: Reason as 'Elb.RegistrationInProgress', Description } : {}),
    },
  };
}

const REGISTERING = target(
  '10.0.1.23',
  'initial',
  'Elb.RegistrationInProgress',
  'Target registration is in progress',
);
const CHECKING = target(
  '10.0.2.41',
  'initial',
  'Elb.InitialHealthChecking',
  'Initial health checks in progress',
);
const HEALTHY_A = target('10.0.1.23', 'healthy');
const HEALTHY_B = target('10.0.2.41', 'healthy');
const DRAINING = target(
  '10.0.3.7',
  'draining',
  'Target.DeregistrationInProgress',
  'Target deregistration is in progress',
);
const NOT_FOUND_404 = target(
  '10.0.2.41',
  'unhealthy',
  'Target.ResponseCodeMismatch',
  'Health checks failed with these codes: [404]',
);

/** Fake AWS clients answering with `responses`; every other call fails the test. */
function fakeApis(parts: Record<string, Record<string, (...args: never[]) => unknown>>): AwsApis {
  return new Proxy(
    {},
    {
      get: (_t, api: string) =>
        new Proxy(
          {},
          {
            get: (_u, call: string) =>
              parts[api]?.[call] ??
              (() => {
                throw new Error(`unexpected call ${api}.${call}`);
              }),
          },
        ),
    },
  ) as AwsApis;
}

function stepContext(progress: string[]): StepContext {
  return {
    operation: {} as never,
    step: {} as never,
    signal: new AbortController().signal,
    checkpoint: async () => undefined,
    progress: async (message) => void progress.push(message),
    checkpointOf: () => undefined,
  };
}

describe('ALB target registration delay (recorded DescribeTargetHealth)', () => {
  it("waits while a new task's target is initial, saying so, and is ready once both are healthy", async () => {
    const answers = [
      [REGISTERING, CHECKING],
      [HEALTHY_A, CHECKING],
      [HEALTHY_A, HEALTHY_B],
    ];
    let reads = 0;
    const apis = fakeApis({
      ecs: { describeServices: async () => runningService() },
      elbv2: { describeTargetHealth: async () => answers[Math.min(reads++, answers.length - 1)]! },
    });
    const provider = {
      readinessPollMs: 1,
      readiness: (id: string) => computeReadiness(apis, 'berth-staging', id),
      recentLogs: async () => [],
    } as unknown as Provider;
    const progress: string[] = [];
    const done = await waitUntilHealthy(stepContext(progress), provider, SERVICE_ARN, 60_000);
    expect(reads).toBe(3);
    // ECS already counted both tasks running: the first update still says 0 of 2 serve, and why.
    expect(progress[0]).toMatch(
      /^2\/2 tasks running \(rollout in_progress\); targets: 0\/2 healthy; 2 initial \(Target registration is in progress; Initial health checks in progress\) · 0\/2 healthy, 0s of 60s$/,
    );
    expect(done).toBe('2/2 tasks running (rollout in_progress); targets: 2/2 healthy');
  });

  it('says why a target fails its health checks, and keeps waiting (ECS replaces such tasks)', async () => {
    const apis = fakeApis({
      ecs: { describeServices: async () => runningService() },
      elbv2: { describeTargetHealth: async () => [HEALTHY_A, NOT_FOUND_404] },
    });
    const readiness = await computeReadiness(apis, 'berth-staging', SERVICE_ARN);
    expect(readiness).toMatchObject({ ready: false, failed: false, healthy: 1, desired: 2 });
    expect(readiness.detail).toContain(
      'targets: 1/2 healthy; 1 unhealthy (Health checks failed with these codes: [404])',
    );
  });

  it('counts a draining target of an older task as leaving, not as missing', () => {
    expect(targetsPicture([HEALTHY_A, HEALTHY_B, DRAINING], 2)).toEqual({
      healthy: 2,
      registered: 2,
      detail: 'targets: 2/2 healthy; 1 draining (an older task leaving)',
    });
  });

  it('asks the load balancer only once ECS counts every task running', async () => {
    const apis = fakeApis({
      ecs: {
        describeServices: async () => {
          const out = runningService();
          out.services[0]!.runningCount = 1;
          out.services[0]!.deployments[0]!.runningCount = 1;
          return out;
        },
      },
    });
    expect(await computeReadiness(apis, 'berth-staging', SERVICE_ARN)).toMatchObject({
      ready: false,
      healthy: 1,
      detail: '1/2 tasks running (rollout in_progress)',
    });
  });
});

describe("one service's status: the load balancer's view of its targets", () => {
  async function observe(targets: TargetHealthDescription[]) {
    const apis = fakeApis({
      tagging: {
        getResources: async () => ({
          ResourceTagMappingList: [{ ResourceARN: SERVICE_ARN, Tags: [] }],
        }),
      },
      ecs: { describeServices: async () => runningService() },
      elbv2: {
        describeTargetGroups: async () => ({
          TargetGroups: [{ TargetGroupArn: GROUP_ARN, HealthCheckPath: '/healthz' }],
        }),
        describeTargetHealth: async () => targets,
      },
    });
    const driver = computeDriverOver(apis, env);
    const [compute] = await driver.observeAll({ env: 'staging', service: 'web' });
    return compute!.health;
  }

  it('is progressing while targets are initial, unhealthy while they fail, healthy once they serve', async () => {
    expect(await observe([HEALTHY_A, CHECKING])).toEqual({
      state: 'progressing',
      detail:
        '2/2 tasks running (rollout in_progress); targets: 1/2 healthy; 1 initial (Initial health checks in progress)',
    });
    expect((await observe([HEALTHY_A, NOT_FOUND_404]))?.state).toBe('unhealthy');
    expect(await observe([HEALTHY_A, HEALTHY_B])).toEqual({
      state: 'healthy',
      detail: '2/2 tasks running (rollout in_progress); targets: 2/2 healthy',
    });
  });
});

describe('ALB deregistration delay (recorded DescribeTargetHealth after DeleteService)', () => {
  it('keeps the target group while its targets drain, saying so; removes it once they are gone', async () => {
    const calls: string[] = [];
    let deleted = false;
    let targets: TargetHealthDescription[] = [
      DRAINING,
      { ...DRAINING, Target: { Id: '10.0.3.8', Port: 8080 } },
    ];
    const apis = fakeApis({
      ecs: {
        describeServices: async () => runningService(deleted ? 'DRAINING' : 'ACTIVE'),
        deleteService: async () => {
          calls.push('ecs.deleteService');
          deleted = true;
          return {};
        },
        listTaskDefinitions: async () => ({ taskDefinitionArns: [] }),
      },
      elbv2: {
        describeTags: async () => ({
          TagDescriptions: [
            {
              ResourceArn: GROUP_ARN,
              Tags: Object.entries(berthTags('staging', 'web', 2)).map(([Key, Value]) => ({ Key, Value })),
            },
          ],
        }),
        describeTargetHealth: async () => targets,
        deleteTargetGroup: async () => void calls.push('elbv2.deleteTargetGroup'),
      },
      tagging: { getResources: async () => ({ ResourceTagMappingList: [] }) },
    });
    const driver = computeDriverOver(apis, env, {
      serviceRules: async () => null,
      notePlacement: async () => undefined,
    });

    const first = await driver.delete(SERVICE_ARN).catch((error: unknown) => error);
    expect(first).toBeInstanceOf(TransientError);
    expect((first as Error).message).toBe(
      `target group web-staging-g2 still has 2 targets: 2 draining; requests in flight get up to ${DEREGISTRATION_DELAY_SECONDS}s to finish before it is deleted`,
    );
    expect(calls).toEqual(['ecs.deleteService']);

    // The engine retries the step (DRAIN_RETRY: long enough for the delay); once they are gone:
    targets = [];
    expect(await driver.delete(SERVICE_ARN)).toBe('already-gone');
    expect(calls).toEqual(['ecs.deleteService', 'elbv2.deleteTargetGroup']);
    const patience = Array.from({ length: DRAIN_RETRY.maxAttempts - 1 }, (_, attempt) =>
      Math.min(DRAIN_RETRY.maxDelayMs, DRAIN_RETRY.initialDelayMs * 2 ** attempt),
    ).reduce((a, b) => a + b, 0);
    expect(patience).toBeGreaterThan(3 * DEREGISTRATION_DELAY_SECONDS * 1000);
  });
});

/** GetHealthCheckStatus as Route 53 answers it: 16 checkers (8 regions, 2 each). */
function observations(failing: { region: string; status: string }[]): HealthCheckObservation[] {
  const regions = [
    'us-east-1',
    'us-west-1',
    'us-west-2',
    'eu-west-1',
    'ap-southeast-1',
    'ap-southeast-2',
    'ap-northeast-1',
    'sa-east-1',
  ];
  const out: HealthCheckObservation[] = [];
  regions.forEach((Region, index) => {
    for (const n of [1, 2]) {
      const failure = failing.find((f) => f.region === Region && n === 1);
      out.push({
        Region: Region as 'us-east-1',
        IPAddress: `15.177.${index}.${n}`,
        StatusReport: {
          Status: failure?.status ?? 'Success: HTTP Status Code 200, OK',
          CheckedTime: new Date('2026-12-04T18:00:00Z'),
        },
      });
    }
  });
  return out;
}

describe('Route 53 health-check status from the checkers (recorded GetHealthCheckStatus)', () => {
  it('says how many checkers see the service healthy and why the others do not', () => {
    const some = checkerHealth(
      observations([
        { region: 'us-west-1', status: 'Failure: HTTP Status Code 503, Service Unavailable' },
        { region: 'sa-east-1', status: 'Failure: HTTP Status Code 503, Service Unavailable' },
      ]),
    );
    expect(some).toEqual({
      state: 'healthy',
      detail:
        'Route 53 checkers: 14/16 healthy; 2 report HTTP Status Code 503, Service Unavailable (sa-east-1, us-west-1)',
    });
    const timeout =
      'Failure: Connection timed out. The endpoint or the internet connection is down, or requests are being blocked by your firewall. See https://docs.aws.amazon.com/console/route53/health-checks/failure-reasons';
    const all = observations([]).map((o) => ({ ...o, StatusReport: { ...o.StatusReport, Status: timeout } }));
    const down = checkerHealth(all);
    expect(down.state).toBe('unhealthy');
    expect(down.detail).toMatch(/^Route 53 checkers: 0\/16 healthy; 16 report Connection timed out\. /);
    expect(checkerHealth([])).toEqual({
      state: 'unknown',
      detail: 'Route 53 checkers: none has reported yet (a new check)',
    });
  });

  it("shows the checkers' view when one service is looked at, and that reading (with its age) in sweeps", async () => {
    let statusReads = 0;
    const check = {
      Id: 'a1b2c3d4-0000-4000-8000-000000000001',
      CallerReference: `${serviceReferencePrefix('staging', 'web')}e0b7c8a2-1d2e-4f00-9a00-000000000000`,
      HealthCheckConfig: {
        Type: 'HTTP',
        FullyQualifiedDomainName: 'web.staging.apps.example.com',
        ResourcePath: '/healthz',
        Port: 80,
        RequestInterval: 30,
        FailureThreshold: 3,
      },
    };
    const apis = fakeApis({
      route53: {
        listHealthChecks: async () => ({ HealthChecks: [check], IsTruncated: false }),
        listTagsForResources: async () => ({
          ResourceTagSets: [
            {
              ResourceId: check.Id,
              Tags: Object.entries(berthTags('staging', 'web', 1)).map(([Key, Value]) => ({ Key, Value })),
            },
          ],
        }),
        getHealthCheckStatus: async () => {
          statusReads += 1;
          return observations([
            { region: 'eu-west-1', status: 'Failure: HTTP Status Code 500, Internal Server Error' },
          ]);
        },
      },
    });
    const driver = awsHealthCheckDriver({
      apis,
      env: 'staging',
      primaryHost: (s) => `${s}.staging.apps.example.com`,
    });
    const [one] = await driver.observeAll({ env: 'staging', service: 'web' });
    expect(one!.health).toEqual({
      state: 'healthy',
      detail:
        'Route 53 checkers: 15/16 healthy; 1 report HTTP Status Code 500, Internal Server Error (eu-west-1)',
    });
    const [swept] = await driver.observeAll({ env: 'staging' });
    expect(swept!.health?.detail).toMatch(/^Route 53 checkers: 15\/16 healthy; .* \(read \d+s ago\)$/);
    // A sweep never asks (1 call/s per account); a second look within 15 s uses the reading.
    await driver.observeAll({ env: 'staging', service: 'web' });
    expect(statusReads).toBe(1);
  });
});
