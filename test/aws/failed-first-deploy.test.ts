/**
 * A failed first deploy on AWS leaves nothing behind (a real moto server, DynamoDB state). moto
 * starts no ECS tasks unless told to, so a service there never becomes healthy: its first deploy
 * fails at "wait until healthy" after it made the ECS service, its target group, the CNAME and the
 * Route 53 health check. By default berth removes them all; with noRollback they stay, Failed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ListServicesCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { Engine } from '../../src/engine/engine.js';
import { findOrphans } from '../../src/engine/orphans.js';
import { listTargetGroups, createElbv2Api } from '../../src/providers/aws/elbv2.js';
import { createRoute53Api, listHealthChecks, listRecords } from '../../src/providers/aws/route53.js';
import type { Provider } from '../../src/providers/provider.js';
import type { EnvironmentConfig } from '../../src/spec/types.js';
import type { DynamoStateStore } from '../../src/state/dynamodb/store.js';
import { awsSpec, CLUSTER, initStaging, openPlane, rawClients, type RawClients } from '../helpers/aws-env.js';
import { motoConnection, STAGING_ACCOUNT, startMoto, type MotoServer } from '../helpers/moto.js';

let moto: MotoServer;
let env: EnvironmentConfig;
let plane: { store: DynamoStateStore; provider: Provider; close(): Promise<void> };
let raw: RawClients;

beforeAll(async () => {
  moto = await startMoto(); // no MOTO_ECS_SERVICE_RUNNING: tasks never run
}, 60_000);

beforeEach(async () => {
  await plane?.close();
  raw?.destroy();
  await moto.reset();
  env = await initStaging(moto);
  plane = await openPlane(moto, env);
  raw = rawClients(moto);
}, 60_000);

afterAll(async () => {
  raw?.destroy();
  await plane?.close();
  await moto?.stop();
}, 30_000);

/** What exists in moto for service `web`, read directly (not through berth's state). */
async function piecesOfWeb() {
  const arns = (await raw.ecs.send(new ListServicesCommand({ cluster: CLUSTER }))).serviceArns ?? [];
  const services = arns.length
    ? ((await raw.ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: arns }))).services ?? [])
    : [];
  const elbv2 = createElbv2Api(motoConnection(moto, STAGING_ACCOUNT));
  const route53 = createRoute53Api(motoConnection(moto, STAGING_ACCOUNT));
  try {
    const groups = await listTargetGroups(elbv2);
    const records = await listRecords(route53, env.aws!.hostedZoneId!);
    const checks = await listHealthChecks(route53);
    return {
      ecsServices: services
        .filter((s) => s.status === 'ACTIVE' && s.serviceName?.startsWith('web-'))
        .map((s) => s.serviceName),
      targetGroups: groups.filter((g) => g.TargetGroupName?.includes('web')).map((g) => g.TargetGroupName),
      cnames: records.filter((r) => r.Type === 'CNAME' && r.Name?.startsWith('web.')).map((r) => r.Name),
      healthChecks: checks.map((c) => c.HealthCheckConfig?.FullyQualifiedDomainName),
    };
  } finally {
    elbv2.destroy();
    route53.destroy();
  }
}

describe('a failed first deploy on aws (moto)', () => {
  it('returns to nothing: the ECS service, target group, record and health check are removed', async () => {
    const engine = new Engine({ store: plane.store, provider: plane.provider, env });
    const outcome = await engine.deploy(awsSpec(), { healthDeadlineMs: 2_000 });
    expect(outcome.operation.status).toBe('failed');
    expect(outcome.operation.error).toContain('not healthy after 2s');
    expect(outcome.rollback).toMatchObject({ kind: 'delete', status: 'succeeded' });
    expect(await piecesOfWeb()).toEqual({ ecsServices: [], targetGroups: [], cnames: [], healthChecks: [] });
    expect(await plane.store.getService('staging', 'web')).toBeNull();
  }, 90_000);

  it('with noRollback the pieces stay: Failed with its resources, and orphans lists them', async () => {
    const engine = new Engine({ store: plane.store, provider: plane.provider, env });
    const outcome = await engine.deploy(awsSpec(), { healthDeadlineMs: 2_000, noRollback: true });
    expect(outcome.operation.status).toBe('failed');
    expect(outcome.rollback).toBeNull();
    const pieces = await piecesOfWeb();
    expect(pieces.ecsServices).toHaveLength(1);
    expect(pieces.cnames).toHaveLength(1);
    expect(pieces.healthChecks).toHaveLength(1);

    const [status] = await engine.status('web');
    expect(status).toMatchObject({ health: 'Failed', lastFailure: { step: 'wait until healthy' } });
    // On AWS the route's target group is made with the compute, so it is among the pieces left.
    const kinds = status!.resources.map((r) => r.kind).sort();
    expect(kinds).toEqual(expect.arrayContaining(['compute', 'dns', 'healthcheck']));
    const orphans = (await findOrphans({ store: plane.store, provider: plane.provider, env })).filter(
      (o) => o.service === 'web',
    );
    expect(orphans.every((o) => o.reason === 'never-live')).toBe(true);
    expect(orphans.map((o) => o.kind).sort()).toEqual(kinds);
  }, 90_000);
});
