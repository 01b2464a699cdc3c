/**
 * `berth logs` on AWS (moto): env init makes the environment's log group, the task definition
 * sends task output there (awslogs driver, stream prefix = the service), and the provider reads a
 * service's lines with FilterLogEvents: every task's, since a time, oldest first, newest kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';

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
});
