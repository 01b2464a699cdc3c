/**
 * `berth logs` on AWS (moto): env init makes the environment's log group, the task definition
 * sends task output there (awslogs driver, stream prefix = the service), and the provider reads a
 * service's lines with FilterLogEvents: every task's, since a time, oldest first, newest kept.
 * The API's logs route (what `berth logs` and the dashboard read through a control plane) serves
 * them with their times, the service's env values hidden from a viewer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildApp } from '../../src/api/app.js';
import { defaultAllowedHosts } from '../../src/api/auth.js';
import { ControlPlane } from '../../src/api/control-plane.js';
import { HIDDEN_VALUE } from '../../src/api/redact.js';
import { TokenStore } from '../../src/api/tokens.js';
import { Engine } from '../../src/engine/engine.js';
import type { EnvironmentConfig } from '../../src/spec/types.js';
import { awsSpec, CLUSTER, initStaging, openPlane } from '../helpers/aws-env.js';
import { STAGING_ACCOUNT, TEST_REGION, startMoto, useAccount, type MotoServer } from '../helpers/moto.js';

let moto: MotoServer;
let env: EnvironmentConfig;
let plane: Awaited<ReturnType<typeof openPlane>>;
let logs: CloudWatchLogsClient;

beforeAll(async () => {
  moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
  env = await initStaging(moto);
  plane = await openPlane(moto, env);
  logs = new CloudWatchLogsClient({
    region: TEST_REGION,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  useAccount(logs.middlewareStack as unknown as MiddlewareStack<object, MetadataBearer>, STAGING_ACCOUNT);
}, 60_000);

afterAll(async () => {
  logs?.destroy();
  await plane?.close();
  await moto?.stop();
}, 30_000);

/** What a task would print, as the awslogs driver writes it. */
async function print(stream: string, lines: { at: number; message: string }[]) {
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/berth/staging', logStreamName: stream }));
  await logs.send(
    new PutLogEventsCommand({
      logGroupName: '/berth/staging',
      logStreamName: stream,
      logEvents: lines.map((line) => ({ timestamp: line.at, message: line.message })),
    }),
  );
}

describe('berth logs on AWS (moto)', () => {
  it("sends task output to the environment's log group and reads a service's lines back", async () => {
    const engine = new Engine({ store: plane.store, provider: plane.provider, env });
    const outcome = await engine.deploy(awsSpec(), { healthDeadlineMs: 20_000 });
    expect(outcome.operation.status, outcome.operation.error ?? '').toBe('succeeded');

    // The task definition's container logs to /berth/staging under the service's name.
    const ecs = await plane.provider.drivers.compute.observeAll({ env: 'staging', service: 'web' });
    const { ECSClient } = await import('@aws-sdk/client-ecs');
    const raw = new ECSClient({
      region: TEST_REGION,
      endpoint: moto.endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    useAccount(raw.middlewareStack as unknown as MiddlewareStack<object, MetadataBearer>, STAGING_ACCOUNT);
    try {
      const service = (
        await raw.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [ecs[0]!.providerId] }))
      ).services![0]!;
      const task = await raw.send(
        new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition }),
      );
      expect(task.taskDefinition!.containerDefinitions![0]!.logConfiguration).toEqual({
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/berth/staging',
          'awslogs-region': TEST_REGION,
          'awslogs-stream-prefix': 'web',
        },
      });
    } finally {
      raw.destroy();
    }

    const now = Date.now();
    await print('web/app/task-a', [
      { at: now - 3_600_000, message: 'an hour ago' },
      { at: now - 60_000, message: 'listening on 8080' },
    ]);
    await print('web/app/task-b', [{ at: now - 30_000, message: 'GET /healthz 200' }]);
    await print('webshop/app/task-c', [{ at: now - 20_000, message: 'another service' }]);

    const lines = await plane.provider.logs!({
      service: 'web',
      computeId: null,
      startTime: now - 600_000,
      limit: 100,
    });
    expect(lines.map((l) => `${l.source}: ${l.message}`)).toEqual([
      'task-a: listening on 8080',
      'task-b: GET /healthz 200',
    ]);
    // At most `limit` lines: the newest.
    const last = await plane.provider.logs!({ service: 'web', computeId: null, startTime: 0, limit: 1 });
    expect(last.map((l) => l.message)).toEqual(['GET /healthz 200']);
  }, 120_000);

  it('serves the lines over the API with their times; a viewer sees the env values hidden', async () => {
    const now = Date.now();
    // A task that prints the value of GREETING (awsSpec's env), and one line from long ago.
    await print('web/app/task-d', [
      { at: now - 2 * 86_400_000, message: 'two days ago' },
      { at: now - 10_000, message: 'greeting is hello-from-web' },
    ]);
    const engine = new Engine({ store: plane.store, provider: plane.provider, env });
    const outcome = await engine.deploy(awsSpec({ env: { GREETING: 'hello-from-web' } }), {
      healthDeadlineMs: 20_000,
    });
    expect(outcome.operation.status, outcome.operation.error ?? '').toBe('succeeded');

    const dataDir = mkdtempSync(join(tmpdir(), 'berth-aws-logs-api-'));
    const config = { environments: { staging: env } };
    const control = new ControlPlane({ dataDir, config }, config);
    // This control plane opens staging with the test's store and provider (moto, staging account).
    const identity = await plane.provider.identity();
    control.open = async () => ({ env, store: plane.store, provider: plane.provider, identity });
    control.store = async () => plane.store;
    const tokens = TokenStore.forDataDir(dataDir);
    const api = await buildApp({
      plane: control,
      tokens,
      allowedHosts: () => defaultAllowedHosts(80),
      version: 'test',
    });
    try {
      const deployer = tokens.create({ name: 'dev', roles: { staging: 'deployer' } }).token;
      const viewer = tokens.create({ name: 'watcher', roles: { staging: 'viewer' } }).token;
      const read = (token: string, query = '') =>
        api.app.inject({
          method: 'GET',
          url: `/v1/envs/staging/services/web/logs${query}`,
          headers: { host: 'localhost:80', authorization: `Bearer ${token}` },
        });
      const asDeployer = await read(deployer);
      expect(asDeployer.statusCode, asDeployer.body).toBe(200);
      const body = asDeployer.json() as {
        timed: boolean;
        lines: { time: number; source: string; message: string }[];
      };
      expect(body.timed).toBe(true);
      // The default window is the last 10 minutes: the line of two days ago is not in it.
      expect(body.lines.map((line) => line.message)).toEqual([
        'listening on 8080',
        'GET /healthz 200',
        'greeting is hello-from-web',
      ]);
      expect(body.lines.at(-1)).toMatchObject({ time: now - 10_000, source: 'task-d' });
      const since = new Date(now - 3 * 86_400_000).toISOString();
      const all = (await read(deployer, `?since=${encodeURIComponent(since)}&limit=2`)).json();
      expect(all.lines.map((line: { message: string }) => line.message)).toEqual([
        'GET /healthz 200',
        'greeting is hello-from-web',
      ]);

      const asViewer = await read(viewer);
      expect(asViewer.statusCode).toBe(200);
      expect(asViewer.body).not.toContain('hello-from-web');
      expect(asViewer.json().lines.at(-1).message).toBe(`greeting is ${HIDDEN_VALUE}`);
    } finally {
      await api.app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
