/**
 * The CLI on an AWS environment, as a user runs it (real processes, a real moto server):
 * env init, whoami's account check, deploy, status, delete. Credentials are moto's test/test;
 * without the account header moto acts as its default account 123456789012.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../helpers/cli.js';
import { startMoto, TEST_REGION, type MotoServer } from '../helpers/moto.js';

const DEFAULT_ACCOUNT = '123456789012';
let moto: MotoServer;
let dataDir: string;
let serviceDir: string;
let awsEnv: Record<string, string>;

beforeAll(async () => {
  moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-aws-cli-'));
  serviceDir = path.join(dataDir, 'svc');
  fs.mkdirSync(serviceDir);
  fs.writeFileSync(
    path.join(serviceDir, 'berth.yaml'),
    'name: shop\nimage: registry.example.test/shop:1\nport: 8080\nreplicas: 1\nhealth: { path: /ready }\n',
  );
  const aws = (account: string) =>
    `{ accountId: '${account}', region: ${TEST_REGION}, endpoint: '${moto.endpoint}', domain: apps.example.test }`;
  fs.writeFileSync(
    path.join(dataDir, 'berth.config.yaml'),
    `environments:\n  staging:\n    provider: aws\n    aws: ${aws(DEFAULT_ACCOUNT)}\n` +
      `  production:\n    provider: aws\n    protected: true\n    aws: ${aws('222222222222')}\n`,
  );
  awsEnv = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: TEST_REGION };
}, 60_000);

afterAll(async () => {
  await moto?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

// --direct: these run the engine inside the CLI, whatever control plane may be running.
const berth = (args: string[]) => runCli([...args, '--direct'], { dataDir, env: awsEnv });

describe('berth on an AWS environment (moto)', () => {
  it('env init makes the shared pieces, then finds them', async () => {
    const first = await berth(['env', 'init', 'staging']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/created ecs cluster/);
    expect(first.stderr).toMatch(/created load balancer/);
    expect(first.stderr).toMatch(/created state table: berth-state/);
    const second = await berth(['env', 'init', 'staging']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/everything was already there/);
  }, 60_000);

  it('refuses an environment whose account differs from the credentials (exit 3)', async () => {
    const result = await berth(['whoami', '--env', 'production']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/222222222222/);
    expect(result.stderr).toMatch(new RegExp(DEFAULT_ACCOUNT));
    // the refusal is audited in the environment's own store (its DynamoDB table)
    const audit = await berth(['audit', '--env', 'production', '--json']);
    expect(audit.code, audit.stderr).toBe(0);
    const entries = JSON.parse(audit.stdout) as { action: string; result: string }[];
    expect(entries.at(-1)).toMatchObject({ action: 'open environment' });
    expect(entries.at(-1)!.result).toMatch(/^refused: environment production is AWS account 222222222222/);
    const ok = await berth(['whoami', '--env', 'staging']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`aws account ${DEFAULT_ACCOUNT}`));
  }, 60_000);

  it('deploys, shows status and deletes', async () => {
    const deploy = await berth(['deploy', serviceDir, '--env', 'staging']);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stderr).not.toMatch(/Warning/);
    const status = await berth(['status', 'shop', '--env', 'staging', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(status.stdout))).toMatch(/"health":"Healthy"/);
    const removed = await berth(['delete', 'shop', '--env', 'staging', '--yes']);
    expect(removed.code, removed.stderr + removed.stdout).toBe(0);
  }, 90_000);
});
