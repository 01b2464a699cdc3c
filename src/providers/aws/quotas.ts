/**
 * How much of each AWS quota an environment uses (`berth env show`): rules and target groups on
 * each of its ALBs, ALBs and target groups in the region, Route 53 health checks in the account and
 * records in the hosted zone. These are the limits a growing environment meets first; each row
 * says whether AWS lets it be raised.
 */
import type { EnvironmentConfig } from '../../spec/types.js';
import type { AwsConnection } from './clients.js';
import { createElbv2Api, listTargetGroups } from './elbv2.js';
import { AlbPool, QUOTA_NAMES, reserveOf } from './pool.js';
import { createRoute53Api, listHealthChecks } from './route53.js';
import { awsSettings, connectionFor, findShared, missingShared } from './shared.js';

export interface QuotaUse {
  quota: string;
  /** What it applies to: an ALB's name, the region, the account, the hosted zone. */
  scope: string;
  used: number;
  limit: number;
  adjustable: boolean;
  /** Where berth stops placing new services (ALB quotas: the limit less a 10% reserve). */
  berthStopsAt?: number;
}

/** Route 53's default quotas (adjustable): health checks per account, records per hosted zone. */
export const ROUTE53_HEALTH_CHECKS = 200;
export const ROUTE53_RECORDS_PER_ZONE = 10_000;

export async function awsQuotaUse(
  env: EnvironmentConfig,
  options: { connection?: Partial<AwsConnection> } = {},
): Promise<QuotaUse[]> {
  const settings = awsSettings(env);
  const connection = connectionFor(settings, options.connection);
  const elbv2 = createElbv2Api(connection);
  const route53 = createRoute53Api(connection);
  try {
    const shared = await findShared(elbv2, settings, { listener: false });
    if (!shared) throw missingShared(settings, `load balancer (${settings.albName})`);
    const pool = new AlbPool({ elbv2, settings, shared: async () => shared });
    const limits = await pool.limits();
    const rows: QuotaUse[] = [];
    for (const member of await pool.members()) {
      const use = await pool.use(member);
      rows.push(
        {
          quota: QUOTA_NAMES.rulesPerAlb,
          scope: member.name,
          used: use.rules,
          limit: limits.rulesPerAlb,
          adjustable: true,
          berthStopsAt: limits.rulesPerAlb - reserveOf(limits.rulesPerAlb),
        },
        {
          quota: QUOTA_NAMES.targetGroupsPerAlb,
          scope: member.name,
          used: use.targetGroups,
          limit: limits.targetGroupsPerAlb,
          adjustable: false,
          berthStopsAt: limits.targetGroupsPerAlb - reserveOf(limits.targetGroupsPerAlb),
        },
      );
    }
    rows.push({
      quota: QUOTA_NAMES.albsPerRegion,
      scope: settings.region,
      used: pool.albsInRegion(),
      limit: limits.albsPerRegion,
      adjustable: true,
    });
    rows.push({
      quota: QUOTA_NAMES.targetGroupsPerRegion,
      scope: settings.region,
      used: (await listTargetGroups(elbv2)).length,
      limit: limits.targetGroupsPerRegion,
      adjustable: true,
    });
    rows.push({
      quota: 'Route 53 health checks per account',
      scope: `account ${settings.accountId}`,
      used: (await listHealthChecks(route53)).length,
      limit: ROUTE53_HEALTH_CHECKS,
      adjustable: true,
    });
    if (settings.hostedZoneId) {
      const zone = await route53.getHostedZone(settings.hostedZoneId);
      rows.push({
        quota: 'Route 53 records per hosted zone',
        scope: zone.HostedZone?.Name?.replace(/\.$/, '') ?? settings.hostedZoneId,
        used: zone.HostedZone?.ResourceRecordSetCount ?? 0,
        limit: ROUTE53_RECORDS_PER_ZONE,
        adjustable: true,
      });
    }
    return rows;
  } finally {
    elbv2.destroy();
    route53.destroy();
  }
}
