/**
 * What real AWS does that moto hides, against recorded SDK responses (the shapes the SDK hands
 * back, as captured from AWS): a draining ECS service still blocks its name; the throttling errors
 * of each API family are recognised and retried with jitter, within a bound.
 */
import { describe, expect, it } from 'vitest';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';

import { ConflictError, TransientError } from '../../src/core/errors.js';
import type { AwsApis } from '../../src/providers/aws/shared.js';
import { backoffMs, installThrottle, isThrottle } from '../../src/providers/aws/throttle.js';
import type { EnvironmentConfig } from '../../src/spec/types.js';
import { computeDriverOver } from '../helpers/recorded-aws.js';

/** DescribeServices a few seconds after DeleteService, as AWS answers it (moto says INACTIVE at once). */
const DRAINING = {
  $metadata: { httpStatusCode: 200 },
  services: [
    {
      serviceArn: 'arn:aws:ecs:eu-west-1:111111111111:service/berth-staging/web-staging-g1',
      serviceName: 'web-staging-g1',
      status: 'DRAINING',
      desiredCount: 0,
      runningCount: 1,
      deployments: [{ status: 'PRIMARY', runningCount: 1, desiredCount: 0, rolloutState: 'COMPLETED' }],
    },
  ],
  failures: [],
};

/** Throttling as each API family reports it (name, HTTP status, SDK retry hints). */
const THROTTLED = [
  { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }, // ECS, CloudWatch Logs
  { name: 'Throttling', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }, // ELBv2, Route 53
  { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 400 }, message: 'Too many requests' },
  { name: 'ThrottledException', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }, // tagging
  { name: 'PriorRequestNotComplete', $metadata: { httpStatusCode: 400 }, message: 'still processing' }, // Route 53 changes
  {
    name: 'ProvisionedThroughputExceededException',
    $metadata: { httpStatusCode: 400 },
    message: 'throughput exceeded',
  }, // DynamoDB
];

const env: EnvironmentConfig = {
  name: 'staging',
  provider: 'aws',
  protected: false,
  color: 'yellow',
  drift: 'heal',
  aws: { accountId: '111111111111', region: 'eu-west-1' },
} as EnvironmentConfig;

/** A call whose first attempts fail with `errors`, through berth's throttle middleware only. */
function failing(errors: unknown[], result: MetadataBearer) {
  let middleware: ((next: unknown, context: unknown) => (args: unknown) => Promise<unknown>) | null = null;
  const stack = { add: (mw: typeof middleware) => (middleware = mw) };
  let calls = 0;
  const next = async () => {
    const error = errors[calls++];
    if (error) throw Object.assign(new Error((error as { message: string }).message), error);
    return { output: result, response: {} };
  };
  return {
    stack: stack as unknown as MiddlewareStack<object, MetadataBearer>,
    calls: () => calls,
    send: () => middleware!(next, { commandName: 'DescribeServicesCommand' })({ input: {} }),
  };
}

describe('real AWS details, from recorded responses', () => {
  it('a DRAINING service still blocks its name: create refuses it with a conflict, making nothing', async () => {
    const made: string[] = [];
    const apis = {
      ecs: { describeServices: async () => DRAINING },
      elbv2: new Proxy({}, { get: (_t, name) => async () => made.push(`elbv2:${String(name)}`) }),
      tagging: new Proxy({}, { get: (_t, name) => async () => made.push(`tagging:${String(name)}`) }),
    } as unknown as AwsApis;
    const driver = computeDriverOver(apis, env);
    const refused = await driver
      .create({
        kind: 'compute',
        key: 'compute',
        tags: {},
        attributes: { name: 'web-staging-g1', image: 'img', port: 80, env: {}, secrets: {}, replicas: 1 },
      })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConflictError);
    expect(String((refused as Error).message)).toMatch(/web-staging-g1 is taken \(DRAINING\)/);
    expect(made).toEqual([]);
  });

  it.each(THROTTLED)(
    'recognises $name as throttling and retries it with jitter until it passes',
    async (error) => {
      expect(isThrottle(error)).toBe(true);
      const call = failing([error, error, error], { $metadata: {} });
      installThrottle(call.stack, 'ecs', `test-${error.name}`, {
        baseDelayMs: 1,
        maxDelayMs: 2,
        rateLimits: 'off',
      });
      await call.send();
      expect(call.calls()).toBe(4);
    },
  );

  it('gives up after the throttle budget with a TransientError the engine retries later', async () => {
    const throttled = THROTTLED[0]!;
    const call = failing(Array(20).fill(throttled), { $metadata: {} });
    installThrottle(call.stack, 'ecs', 'test-budget', {
      throttleAttempts: 5,
      baseDelayMs: 1,
      maxDelayMs: 2,
      rateLimits: 'off',
    });
    const error = await call.send().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(String((error as Error).message)).toMatch(/throttled 5 times/);
    expect(call.calls()).toBe(5);
  });

  it('backs off with full jitter under an exponential ceiling', () => {
    const waits = Array.from({ length: 200 }, () => backoffMs(4, { baseDelayMs: 100, maxDelayMs: 5000 }));
    expect(Math.max(...waits)).toBeLessThanOrEqual(800);
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
    expect(new Set(waits.map((w) => Math.round(w))).size).toBeGreaterThan(50); // spread, not fixed
  });
});

describe('a sweep of a large cluster stays within the ECS read budget', () => {
  it('describes every service once, then the unsteady ones and a slice of the rest in turn', async () => {
    const N = 2_500;
    const arn = (i: number) => `arn:aws:ecs:eu-west-1:111111111111:service/berth-staging/s${i}-staging-g1`;
    let describeCalls = 0;
    const apis = {
      ecs: {
        listServices: async () => ({ serviceArns: Array.from({ length: N }, (_, i) => arn(i)) }),
        describeServices: async ({ services }: { services: string[] }) => {
          describeCalls += 1;
          return {
            services: services.map((id) => ({
              serviceArn: id,
              serviceName: id.split('/').pop(),
              status: 'ACTIVE',
              desiredCount: 1,
              runningCount: 1,
              deployments: [{ status: 'PRIMARY', runningCount: 1 }],
              tags: [
                { key: 'berth:managed-by', value: 'berth' },
                { key: 'berth:env', value: 'staging' },
                {
                  key: 'berth:service',
                  value: id
                    .split('/')
                    .pop()!
                    .replace(/-staging-g1$/, ''),
                },
              ],
            })),
          };
        },
        describeTaskDefinition: async () => ({ taskDefinition: { containerDefinitions: [] } }),
      },
      elbv2: { describeTargetGroups: async () => ({ TargetGroups: [] }) },
    } as unknown as AwsApis;
    const driver = computeDriverOver(apis, env);
    const first = await driver.observeAll({ env: 'staging' });
    expect(first).toHaveLength(N);
    expect(describeCalls).toBe(N / 10); // never seen: all described
    describeCalls = 0;
    const second = await driver.observeAll({ env: 'staging' });
    expect(second).toHaveLength(N);
    expect(describeCalls).toBe(200); // 2,000 of 2,500 in turn
  });
  it('lists target groups as often as it describes each steady service, and reads a new one by ARN', async () => {
    let n = 2_500;
    const arn = (i: number) => `arn:aws:ecs:eu-west-1:111111111111:service/berth-staging/s${i}-staging-g1`;
    const group = (i: number) =>
      `arn:aws:elasticloadbalancing:eu-west-1:111111111111:targetgroup/s${i}/x${i}`;
    let path = '/healthz';
    const calls = { listing: 0, byArn: [] as string[] };
    const groupOf = (id: string) => ({
      TargetGroupArn: id,
      HealthCheckPath: path,
      HealthCheckIntervalSeconds: 30,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 3,
      UnhealthyThresholdCount: 3,
    });
    const apis = {
      ecs: {
        listServices: async () => ({ serviceArns: Array.from({ length: n }, (_, i) => arn(i)) }),
        describeServices: async ({ services }: { services: string[] }) => ({
          services: services.map((id) => {
            const i = Number(id.match(/\/s(\d+)-/)![1]);
            return {
              serviceArn: id,
              serviceName: id.split('/').pop(),
              status: 'ACTIVE',
              desiredCount: 1,
              runningCount: 1,
              deployments: [{ status: 'PRIMARY', runningCount: 1 }],
              loadBalancers: [{ targetGroupArn: group(i) }],
              tags: [
                { key: 'berth:managed-by', value: 'berth' },
                { key: 'berth:env', value: 'staging' },
                { key: 'berth:service', value: `s${i}` },
              ],
            };
          }),
        }),
        describeTaskDefinition: async () => ({ taskDefinition: { containerDefinitions: [] } }),
      },
      elbv2: {
        describeTargetGroups: async (input: { TargetGroupArns?: string[] }) => {
          if (input.TargetGroupArns) {
            calls.byArn.push(...input.TargetGroupArns);
            return { TargetGroups: input.TargetGroupArns.map(groupOf) };
          }
          calls.listing += 1;
          return { TargetGroups: Array.from({ length: n }, (_, i) => groupOf(group(i))) };
        },
      },
    } as unknown as AwsApis;
    const driver = computeDriverOver(apis, env);
    const pathOf = (found: Awaited<ReturnType<typeof driver.observeAll>>, i: number) =>
      (found.find((r) => r.name === `s${i}-staging-g1`)?.attributes.health as { path: string }).path;
    await driver.observeAll({ env: 'staging' });
    expect(calls.listing).toBe(1);
    // Changed behind berth's back, and one more service: 2,500 services are described every 2
    // sweeps, and so are the target groups listed.
    path = '/changed';
    n += 1;
    const second = await driver.observeAll({ env: 'staging' });
    expect(calls.listing).toBe(1);
    expect(calls.byArn).toEqual([group(2_500)]);
    expect(pathOf(second, 2_500)).toBe('/changed');
    const third = await driver.observeAll({ env: 'staging' });
    expect(calls.listing).toBe(2);
    expect(pathOf(third, 7)).toBe('/changed');
  });
});
