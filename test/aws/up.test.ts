/**
 * `berth up` hosts an AWS environment (a real moto server, DynamoDB state, real processes): its
 * reconciler watches the environment, and a change made with the AWS SDK behind berth's back (the
 * service's ECS service deleted, as in the 2016 outage) is noticed and repaired. It shows in the
 * API's status and events, and in /metrics. No environment uses the local runtime, so `berth up`
 * starts none.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteServiceCommand, DescribeServicesCommand, ListServicesCommand } from '@aws-sdk/client-ecs';

import { runCli } from '../helpers/cli.js';
import { startUp, type UpProcess } from '../helpers/control-plane.js';
import { awsSpec, rawClients, waitFor, type RawClients } from '../helpers/aws-env.js';
import { startMoto, TEST_REGION, type MotoServer } from '../helpers/moto.js';
import { runtimePaths } from '../../src/runtime/paths.js';
import { sleep } from '../../src/core/clock.js';

/** moto's account when a request names none. */
const ACCOUNT = '123456789012';
const CLUSTER = 'berth-staging';

let moto: MotoServer;
let dataDir: string;
let awsEnv: Record<string, string>;
let up: UpProcess | null = null;
let raw: RawClients;

beforeAll(async () => {
  moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-aws-up-'));
  fs.writeFileSync(
    path.join(dataDir, 'berth.config.yaml'),
    `environments:\n  staging:\n    provider: aws\n    resync: 1s\n` +
      `    aws: { accountId: '${ACCOUNT}', region: ${TEST_REGION}, endpoint: '${moto.endpoint}', domain: apps.example.test }\n`,
  );
  awsEnv = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: TEST_REGION };
  const init = await runCli(['env', 'init', 'staging', '--direct'], { dataDir, env: awsEnv });
  expect(init.code, init.stderr).toBe(0);
  raw = rawClients(moto, ACCOUNT);
}, 90_000);

afterAll(async () => {
  await up?.kill('SIGTERM');
  raw?.destroy();
  await moto?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function api<T>(method: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${up!.api}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${up!.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
  return (response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T;
}

interface Status {
  health: string;
  sync: string;
  resources: { kind: string; state: string }[];
}

/** The ECS services of `web` that are running (ACTIVE), read with the SDK, not through berth. */
async function activeWebServices(): Promise<string[]> {
  const listed = await raw.ecs.send(new ListServicesCommand({ cluster: CLUSTER }));
  const arns = (listed.serviceArns ?? []).filter((arn) => /\/web-/.test(arn));
  if (arns.length === 0) return [];
  const described = await raw.ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: arns }));
  return (described.services ?? []).filter((s) => s.status === 'ACTIVE').map((s) => s.serviceName!);
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('berth up on an AWS environment (moto)', () => {
  it('reconciles it: an ECS service deleted with the SDK is repaired; status and /metrics show it', async () => {
    up = await startUp(dataDir, awsEnv);
    expect(fs.existsSync(runtimePaths(dataDir).state)).toBe(false); // no local runtime started
    await waitFor(
      'the reconciler of staging to lead',
      async () =>
        metric(await api<string>('GET', '/metrics'), 'berth_reconciler_leader', 'env="staging"') === 1,
      30_000,
    );

    await api('PUT', '/v1/envs/staging/services/web', { spec: awsSpec() });
    await waitFor(
      'web to be deployed',
      async () => {
        const status = await api<Status>('GET', '/v1/envs/staging/services/web');
        return status.health === 'Healthy' && status.sync === 'InSync';
      },
      60_000,
      250,
    );
    const [deployed] = await activeWebServices();
    expect(deployed).toBeDefined();

    // Behind berth's back: the ECS service is deleted, as someone with the console would.
    await raw.ecs.send(new DeleteServiceCommand({ cluster: CLUSTER, service: deployed!, force: true }));

    // The reconciler notices and repairs: a new ECS service runs the spec, the status is in sync.
    await waitFor(
      'the deleted ECS service to be repaired',
      async () => {
        const services = await activeWebServices();
        if (services.length !== 1 || services[0] === deployed) return false;
        const status = await api<Status>('GET', '/v1/envs/staging/services/web');
        return status.health === 'Healthy' && status.sync === 'InSync';
      },
      60_000,
      250,
    );
    const events = await api<{ type: string; message: string }[]>(
      'GET',
      '/v1/envs/staging/services/web/events',
    );
    const types = events.map((event) => event.type);
    expect(events.find((e) => e.type === 'drift.seen')?.message).toMatch(/compute .*missing/);
    expect(types).toContain('operation.succeeded');
    expect(events.some((e) => e.type === 'operation.started' && /repair/.test(e.message))).toBe(true);

    const metrics = await api<string>('GET', '/metrics');
    expect(
      metric(metrics, 'berth_drift_detected_total', 'env="staging",kind="compute",state="missing"'),
    ).toBe(1);
    expect(metric(metrics, 'berth_operations_total', 'env="staging",kind="repair",result="succeeded"')).toBe(
      1,
    );
    expect(metric(metrics, 'berth_reconciler_leader', 'env="staging"')).toBe(1);
    // the gauge drops to 0 with the first observation after the repair
    const driftItems = async () =>
      metric(
        await api<string>('GET', '/metrics'),
        'berth_service_drift_items',
        'env="staging",service="web"',
      );
    const settledBy = Date.now() + 90_000;
    while ((await driftItems()) !== 0 && Date.now() < settledBy) await sleep(500);
    expect(await driftItems()).toBe(0);
  }, 180_000);
});
