/**
 * `berth install` on an AWS environment (a real moto server; moto cannot run the task, so this
 * checks what berth creates): the ECS service running berth's image with its task definition, the
 * ALB rule for its host name, the DNS record, the Route 53 health check on /healthz; its revision
 * kept in the state store; deletion protection; a context naming its stable URL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListServicesCommand,
} from '@aws-sdk/client-ecs';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  CreateHostedZoneCommand,
  GetHealthCheckCommand,
  ListHealthChecksCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';

import { runCli } from '../helpers/cli.js';
import { startMoto, TEST_REGION, type MotoServer } from '../helpers/moto.js';

const ACCOUNT = '123456789012';
const DOMAIN = 'apps.example.test';
const HOST = `berth.staging.${DOMAIN}`;
const IMAGE = 'registry.example.test/berth:0.1.0';
let moto: MotoServer;
let dataDir: string;
let awsEnv: Record<string, string>;
let clients: { ecs: ECSClient; elbv2: ElasticLoadBalancingV2Client; route53: Route53Client };

beforeAll(async () => {
  moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: '2' } });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-aws-install-'));
  const config = {
    region: TEST_REGION,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  clients = {
    ecs: new ECSClient(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
    route53: new Route53Client(config),
  };
  const zone = await clients.route53.send(
    new CreateHostedZoneCommand({ Name: DOMAIN, CallerReference: `z-${Date.now()}` }),
  );
  const zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
  fs.writeFileSync(
    path.join(dataDir, 'berth.config.yaml'),
    `environments:\n  staging:\n    provider: aws\n    aws: { accountId: '${ACCOUNT}', region: ${TEST_REGION}, endpoint: '${moto.endpoint}', domain: ${DOMAIN}, hostedZoneId: ${zoneId} }\n`,
  );
  awsEnv = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: TEST_REGION };
  const init = await berth(['env', 'init', 'staging', '--direct']);
  expect(init.code, init.stderr).toBe(0);
}, 90_000);

afterAll(async () => {
  for (const client of Object.values(clients ?? {})) client.destroy();
  await moto?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const berth = (args: string[]) => runCli(args, { dataDir, env: awsEnv });

describe('berth install on AWS (moto)', () => {
  it('creates the control plane as the service berth: image, rule, DNS record, health check', async () => {
    const noImage = await berth(['install', '--env', 'staging']);
    expect(noImage.code).toBe(2);
    expect(noImage.stderr).toContain('--image is required');
    expect(noImage.stderr).toContain('Dockerfile');

    const install = await berth(['install', '--env', 'staging', '--image', IMAGE, '--json']);
    expect(install.code, install.stderr).toBe(0);
    const result = JSON.parse(install.stdout) as { url: string; revision: number; context: string };
    expect(result).toMatchObject({ url: `http://${HOST}`, context: 'staging', revision: 1 });

    // The ECS service and its task definition: berth's image on port 4000, 2 replicas, and what
    // the image's entry point needs (config, token hashes, host names), never a token.
    const arns =
      (await clients.ecs.send(new ListServicesCommand({ cluster: 'berth-staging' }))).serviceArns ?? [];
    const { services } = await clients.ecs.send(
      new DescribeServicesCommand({ cluster: 'berth-staging', services: arns }),
    );
    const service = services!.find((s) => s.serviceName?.startsWith('berth-staging'))!;
    expect(service, JSON.stringify(arns)).toBeDefined();
    expect(service.desiredCount).toBe(2);
    const { taskDefinition } = await clients.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition! }),
    );
    const container = taskDefinition!.containerDefinitions![0]!;
    expect(container.image).toBe(IMAGE);
    expect(container.portMappings?.[0]?.containerPort).toBe(4000);
    const env = Object.fromEntries((container.environment ?? []).map((e) => [e.name, e.value]));
    expect(JSON.parse(env.BERTH_CONFIG!)).toMatchObject({ environments: { staging: { provider: 'aws' } } });
    expect(env.BERTH_ALLOW_HOSTS).toBe(HOST);
    const saved = JSON.parse(fs.readFileSync(path.join(dataDir, 'contexts.json'), 'utf8')) as {
      current: string;
      contexts: { name: string; url: string; token: string; env: string }[];
    };
    expect(saved.current).toBe('staging');
    const context = saved.contexts.find((c) => c.name === 'staging')!;
    expect(context).toMatchObject({ url: `http://${HOST}`, env: 'staging' });
    expect(env.BERTH_TOKENS).not.toContain(context.token);
    expect(JSON.parse(env.BERTH_TOKENS!).tokens[0].roles).toEqual({ '*': 'admin' });

    // The ALB rule for its host name, the DNS record and the health check on /healthz.
    const [alb] = (await clients.elbv2.send(new DescribeLoadBalancersCommand({ Names: ['berth-staging'] })))
      .LoadBalancers!;
    const [listener] = (
      await clients.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: alb!.LoadBalancerArn }))
    ).Listeners!;
    const rules = (await clients.elbv2.send(new DescribeRulesCommand({ ListenerArn: listener!.ListenerArn })))
      .Rules!;
    expect(JSON.stringify(rules)).toContain(HOST);
    const zones = await clients.route53.send(
      new ListResourceRecordSetsCommand({ HostedZoneId: zoneIdOf(dataDir) }),
    );
    expect(zones.ResourceRecordSets!.some((r) => r.Name === `${HOST}.` && r.Type === 'CNAME')).toBe(true);
    const checks = (await clients.route53.send(new ListHealthChecksCommand({}))).HealthChecks!;
    const check = checks.find((c) => c.HealthCheckConfig?.FullyQualifiedDomainName === HOST);
    expect(check, JSON.stringify(checks)).toBeDefined();
    const detail = await clients.route53.send(new GetHealthCheckCommand({ HealthCheckId: check!.Id }));
    expect(detail.HealthCheck!.HealthCheckConfig!.ResourcePath).toBe('/healthz');

    // Recorded in the store (recovery needs no berth.yaml), protected, and idempotent.
    const history = await berth(['history', 'berth', '--env', 'staging', '--direct', '--json']);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toContain(IMAGE);
    const again = await berth(['install', '--env', 'staging', '--image', IMAGE, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).revision).toBe(1);
    const deleted = await berth(['delete', 'berth', '--env', 'staging', '--direct', '--yes']);
    expect(deleted.code, deleted.stderr).toBe(3);
    expect(deleted.stderr).toContain('deletion protection');
  }, 180_000);
});

function zoneIdOf(dir: string): string {
  const text = fs.readFileSync(path.join(dir, 'berth.config.yaml'), 'utf8');
  return /hostedZoneId: (\S+) }/.exec(text)![1]!;
}
