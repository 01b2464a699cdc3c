/**
 * An AWS environment on a moto server for the end-to-end AWS tests (drift, failover): a hosted
 * zone, `env init`, a DynamoDB store and the provider, plus raw SDK clients that act behind
 * berth's back and read what exists without berth's state.
 */
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';

import { bootstrapAwsEnvironment } from '../../src/providers/aws/bootstrap.js';
import { createAwsProvider } from '../../src/providers/aws/index.js';
import type { Provider } from '../../src/providers/provider.js';
import type { EnvironmentConfig, ServiceSpec } from '../../src/spec/types.js';
import { DynamoStateStore } from '../../src/state/dynamodb/store.js';
import type { EventRecord } from '../../src/state/store.js';
import { motoConnection, STAGING_ACCOUNT, TEST_REGION, useAccount, type MotoServer } from './moto.js';

export const DOMAIN = 'apps.example.test';
export const TABLE = 'berth-state';
export const CLUSTER = 'berth-staging';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
type Stack = MiddlewareStack<object, MetadataBearer>;

/** SDK clients that act in the staging account directly, as someone with a console would. */
export interface RawClients {
  ecs: ECSClient;
  elbv2: ElasticLoadBalancingV2Client;
  route53: Route53Client;
  destroy(): void;
}

export function rawClients(moto: MotoServer, account = STAGING_ACCOUNT): RawClients {
  const config = { region: TEST_REGION, endpoint: moto.endpoint, credentials: CREDENTIALS, maxAttempts: 1 };
  const ecs = new ECSClient(config);
  const elbv2 = new ElasticLoadBalancingV2Client(config);
  const route53 = new Route53Client(config);
  for (const client of [ecs, elbv2, route53]) useAccount(client.middlewareStack as unknown as Stack, account);
  return {
    ecs,
    elbv2,
    route53,
    destroy() {
      ecs.destroy();
      elbv2.destroy();
      route53.destroy();
    },
  };
}

/** A fresh `staging` environment on moto: hosted zone, env init (cluster, ALB, listener, table). */
export async function initStaging(moto: MotoServer): Promise<EnvironmentConfig> {
  const raw = rawClients(moto);
  let zoneId: string;
  try {
    const zone = await raw.route53.send(
      new CreateHostedZoneCommand({ Name: DOMAIN, CallerReference: `zone-${Date.now()}` }),
    );
    zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
  } finally {
    raw.destroy();
  }
  const env: EnvironmentConfig = {
    name: 'staging',
    provider: 'aws',
    protected: false,
    color: 'yellow',
    drift: 'heal',
    aws: {
      accountId: STAGING_ACCOUNT,
      region: TEST_REGION,
      endpoint: moto.endpoint,
      hostedZoneId: zoneId,
      domain: DOMAIN,
      table: TABLE,
    },
  };
  await bootstrapAwsEnvironment(env, { connection: motoConnection(moto, STAGING_ACCOUNT) });
  return env;
}

/** berth's view of the environment: a store and a provider, as a control plane opens them. */
export async function openPlane(
  moto: MotoServer,
  env: EnvironmentConfig,
): Promise<{ store: DynamoStateStore; provider: Provider; close(): Promise<void> }> {
  const provider = await createAwsProvider(env, { connection: motoConnection(moto, STAGING_ACCOUNT) });
  const store = await DynamoStateStore.open({
    table: TABLE,
    connection: motoConnection(moto, STAGING_ACCOUNT),
  });
  return {
    store,
    provider,
    async close() {
      await provider.close();
      await store.close();
    },
  };
}

export function awsSpec(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
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

/** Polls `probe` until it returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > giveUpAt) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Each operation's steps: how many times each one started and succeeded, from the events. */
export function stepRuns(events: EventRecord[]): Map<string, { started: number; succeeded: number }> {
  const runs = new Map<string, { started: number; succeeded: number }>();
  for (const event of events) {
    if (!event.operationId || !['step.started', 'step.succeeded'].includes(event.type)) continue;
    const step = String((event.data as { step?: string } | null)?.step ?? '');
    const key = `${event.operationId}|${step}`;
    const entry = runs.get(key) ?? { started: 0, succeeded: 0 };
    if (event.type === 'step.started') entry.started += 1;
    else entry.succeeded += 1;
    runs.set(key, entry);
  }
  return runs;
}
