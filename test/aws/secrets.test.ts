/**
 * Secrets on AWS (a real moto server): `berth secret set` stores a SecureString parameter under
 * /berth/<env>/, `ls` lists names only, and the task definition refers to the value by ARN in its
 * container's `secrets`, so that ECS reads it when a task starts and it never appears in the task
 * definition's environment, in berth's history or status, or on the command line.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DescribeTaskDefinitionCommand, ECSClient, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BERTH_BIN, runCli, type CliResult } from '../helpers/cli.js';
import { startMoto, TEST_REGION, type MotoServer } from '../helpers/moto.js';

const ACCOUNT = '123456789012';
const SECRET = 'postgres://app:hunter2-on-aws@db.internal/shop';
const MANAGER_ARN = `arn:aws:secretsmanager:${TEST_REGION}:${ACCOUNT}:secret:shop-api-key-AbCdEf`;
let moto: MotoServer;
let dataDir: string;
let serviceDir: string;
const awsEnv = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: TEST_REGION };
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

beforeAll(async () => {
  // The test's own SDK clients: the same silence berth's clients keep (clients.ts).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-aws-secrets-'));
  serviceDir = path.join(dataDir, 'svc');
  fs.mkdirSync(serviceDir);
  fs.writeFileSync(
    path.join(serviceDir, 'berth.yaml'),
    [
      'name: shop',
      'image: registry.example.test/shop:1',
      'health: { path: /ready }',
      'env: { LOG_LEVEL: info }',
      `secrets: { DATABASE_URL: db-url, API_KEY: '${MANAGER_ARN}' }`,
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(dataDir, 'berth.config.yaml'),
    `environments:\n  staging:\n    provider: aws\n    aws: { accountId: '${ACCOUNT}', region: ${TEST_REGION}, endpoint: '${moto.endpoint}', domain: apps.example.test }\n`,
  );
}, 60_000);

afterAll(async () => {
  await moto?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const berth = (args: string[]) => runCli([...args, '--direct'], { dataDir, env: awsEnv });

function berthWithStdin(args: string[], input: string): Promise<CliResult> {
  const child = spawn(process.execPath, [BERTH_BIN, ...args], {
    env: { ...process.env, ...awsEnv, NO_COLOR: '1', BERTH_HOME: dataDir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('secrets on AWS (moto)', () => {
  it('stores SecureString parameters and refers to them from the task definition by ARN', async () => {
    const init = await berth(['env', 'init', 'staging']);
    expect(init.code, init.stderr).toBe(0);

    const set = await berthWithStdin(['secret', 'set', 'db-url', '--env', 'staging'], SECRET);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toContain('SSM Parameter Store');
    const ssm = new SSMClient({ region: TEST_REGION, endpoint: moto.endpoint, credentials });
    try {
      const stored = await ssm.send(
        new GetParameterCommand({ Name: '/berth/staging/db-url', WithDecryption: true }),
      );
      expect(stored.Parameter).toMatchObject({ Type: 'SecureString', Value: SECRET });
    } finally {
      ssm.destroy();
    }
    const ls = await berth(['secret', 'ls', '--env', 'staging', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([{ name: 'db-url', updatedAt: expect.any(String) }]);

    const deploy = await berth(['deploy', serviceDir, '--env', 'staging']);
    expect(deploy.code, deploy.stderr).toBe(0);

    const ecs = new ECSClient({ region: TEST_REGION, endpoint: moto.endpoint, credentials });
    try {
      const arns = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'berth-staging-shop' }));
      const described = await ecs.send(
        new DescribeTaskDefinitionCommand({ taskDefinition: arns.taskDefinitionArns!.at(-1)! }),
      );
      const container = described.taskDefinition!.containerDefinitions![0]!;
      expect(container.secrets).toEqual(
        expect.arrayContaining([
          {
            name: 'DATABASE_URL',
            valueFrom: `arn:aws:ssm:${TEST_REGION}:${ACCOUNT}:parameter/berth/staging/db-url`,
          },
          { name: 'API_KEY', valueFrom: MANAGER_ARN },
        ]),
      );
      expect(container.environment).toEqual([{ name: 'LOG_LEVEL', value: 'info' }]);
      expect(JSON.stringify(described)).not.toContain(SECRET);
    } finally {
      ecs.destroy();
    }

    // In sync after the deploy (the secrets are part of what berth compares), and nowhere shown.
    for (const args of [
      ['status', 'shop', '--env', 'staging', '--json'],
      ['history', 'shop', '--env', 'staging', '--json'],
      ['events', 'shop', '--env', 'staging', '--json'],
    ]) {
      const shown = await berth(args);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).not.toContain(SECRET);
    }
    const audit = await berth(['audit', '--env', 'staging', '--json']);
    expect(audit.stdout).toContain('"secret set"');
    expect(audit.stdout).not.toContain(SECRET);
    const drift = await berth(['drift', '--env', 'staging', '--json']);
    expect(drift.code, drift.stderr).toBe(0);
    expect(drift.stdout).not.toMatch(/secrets/);

    const rm = await berth(['secret', 'rm', 'db-url', '--env', 'staging']);
    expect(rm.code, rm.stderr).toBe(0);
    const again = await berth(['secret', 'rm', 'db-url', '--env', 'staging']);
    expect(again.code).toBe(2);
  }, 120_000);
});
