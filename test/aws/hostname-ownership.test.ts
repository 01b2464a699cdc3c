/**
 * Hostname theft across AWS environments that share a hosted zone (a real moto server): a service
 * in `preview` lists a name that `web` in `staging` already answers at. Each environment has its
 * own state table, so berth's inventory of one cannot see the other; Route 53's record of the name
 * (berth's TXT beside the CNAME) says whose it is. The deploy is refused naming the owner, before
 * anything changes, and the name keeps pointing at its owner.
 */
import { ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { berthTags } from '../../src/core/tags.js';
import { Engine } from '../../src/engine/engine.js';
import { bootstrapAwsEnvironment } from '../../src/providers/aws/bootstrap.js';
import { createAwsProvider } from '../../src/providers/aws/index.js';
import type { EnvironmentConfig } from '../../src/spec/types.js';
import { DynamoStateStore } from '../../src/state/dynamodb/store.js';
import { awsSpec, DOMAIN, initStaging, rawClients, TABLE } from '../helpers/aws-env.js';
import { motoConnection, STAGING_ACCOUNT, startMoto, type MotoServer } from '../helpers/moto.js';

let moto: MotoServer;
let staging: EnvironmentConfig;
let preview: EnvironmentConfig;
const closers: { close(): Promise<void> }[] = [];

async function engineFor(env: EnvironmentConfig) {
  const connection = motoConnection(moto, STAGING_ACCOUNT);
  const provider = await createAwsProvider(env, { connection });
  const store = await DynamoStateStore.open({ table: env.aws!.table!, connection });
  closers.push(provider, store);
  return { provider, store, engine: new Engine({ store, provider, env }) };
}

/** The TXT record berth keeps beside a name's CNAME: whose the name is. */
async function ownerRecord(name: string): Promise<string | undefined> {
  const raw = rawClients(moto);
  try {
    const out = await raw.route53.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: staging.aws!.hostedZoneId!,
        StartRecordName: name,
        StartRecordType: 'TXT',
        MaxItems: 1,
      }),
    );
    const record = out.ResourceRecordSets?.[0];
    return record?.Type === 'TXT' ? record.ResourceRecords?.[0]?.Value : undefined;
  } finally {
    raw.destroy();
  }
}

beforeAll(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });
  staging = await initStaging(moto);
  // Another environment in the same account and hosted zone, with its own state table: neither
  // environment's inventory knows the other's services.
  preview = {
    ...staging,
    name: 'preview',
    aws: { ...staging.aws!, table: `${TABLE}-preview` },
  };
  await bootstrapAwsEnvironment(preview, { connection: motoConnection(moto, STAGING_ACCOUNT) });
}, 120_000);

afterAll(async () => {
  for (const closer of closers) await closer.close().catch(() => undefined);
  await moto?.stop();
});

describe('a host name belongs to one service across AWS environments sharing a hosted zone', () => {
  it('refuses a deploy in another environment that claims a name staging owns, naming the owner', async () => {
    const shop = `shop.${DOMAIN}`;
    const owner = await engineFor(staging);
    const first = await owner.engine.deploy(awsSpec({ domains: [shop] }), { healthDeadlineMs: 10_000 });
    expect(first.operation.status).toBe('succeeded');
    const before = await ownerRecord(shop);
    expect(before).toContain('berth:env=staging');

    const thief = await engineFor(preview);
    // Any spelling of the name: another case, a trailing dot.
    for (const claimed of [shop, `SHOP.${DOMAIN.toUpperCase()}.`]) {
      const attempt = thief.engine.deploy(awsSpec({ name: 'thief', domains: [claimed] }), {
        healthDeadlineMs: 10_000,
      });
      await expect(attempt).rejects.toMatchObject({
        code: 'hostname_taken',
        exitCode: 2,
        message: expect.stringContaining('service web in staging'),
      });
    }
    // Nothing changed: preview has no record of the thief, and the name is still staging's.
    expect(await thief.store.getService('preview', 'thief')).toBeNull();
    expect(await ownerRecord(shop)).toBe(before);
    // A name nobody holds is still free to take.
    const own = await thief.engine.deploy(awsSpec({ name: 'thief', domains: [`preview-shop.${DOMAIN}`] }), {
      healthDeadlineMs: 10_000,
    });
    expect(own.operation.status).toBe('succeeded');
  }, 120_000);

  it('the DNS driver never rewrites a name that another service holds (two deploys racing for it)', async () => {
    const shop = `shop.${DOMAIN}`;
    const { provider } = await engineFor(preview);
    const before = await ownerRecord(shop);
    expect(before).toContain('berth:service=web');
    await expect(
      provider.drivers.dns.create({
        kind: 'dns',
        key: shop,
        tags: berthTags('preview', 'racer', 1),
        attributes: { name: shop, type: 'CNAME', target: 'elsewhere.example.test' },
      }),
    ).rejects.toMatchObject({ code: 'hostname_taken', message: expect.stringContaining('web in staging') });
    expect(await ownerRecord(shop)).toBe(before);
  }, 60_000);

  it('hostnameHolders names the owner of each claimed name in the zone, and nothing for names outside it', async () => {
    const { provider } = await engineFor(preview);
    const holders = await provider.hostnameHolders!([
      `web.staging.${DOMAIN}`,
      `shop.${DOMAIN}.`,
      'elsewhere.test',
    ]);
    expect(holders).toEqual([
      { host: `web.staging.${DOMAIN}`, owner: { env: 'staging', service: 'web' } },
      { host: `shop.${DOMAIN}`, owner: { env: 'staging', service: 'web' } },
    ]);
  }, 60_000);
});
