/**
 * The AWS provider: ECS services behind the environment's ALB, Route 53 names and health checks.
 * See DESIGN.md ("AWS provider") and notes/aws.md for the AWS behaviour it is built around.
 */
import { RefusedError, UserError } from '../../core/errors.js';
import { berthTags } from '../../core/tags.js';
import type { ResourceKind } from '../../state/store.js';
import type { EnvironmentConfig, ServiceSpec } from '../../spec/types.js';
import type {
  ComputeReadiness,
  DesiredContext,
  DesiredResource,
  Provider,
  VerifiedIdentity,
} from '../provider.js';
import type { AwsConnection } from './clients.js';
import { awsComputeDriver, computeReadiness, type ComputeAttributes } from './compute.js';
import { awsDnsDriver } from './dns.js';
import { secretValueFrom } from './secrets.js';
import { createEcsApi } from './ecs.js';
import { createElbv2Api } from './elbv2.js';
import { awsHealthCheckDriver, type HealthCheckAttributes } from './healthcheck.js';
import { route53HostnameHolders } from './hostname-holders.js';
import { createRoute53Api } from './route53.js';
import { awsRouteDriver, HOSTS_PER_RULE, type RouteAttributes } from './route.js';
import {
  awsSettings,
  connectionFor,
  ecsServiceName,
  findShared,
  missingShared,
  targetGroupName,
  type AwsApis,
  type SharedPieces,
} from './shared.js';
import { createStsApi } from './sts.js';
import { AlbPool } from './pool.js';
import { createTaggingApi } from './tagging.js';
import { createLogsApi, serviceLogLines } from './logs.js';
import { normalizeHostname } from '../../spec/hostnames.js';

export interface AwsProviderOptions {
  /** Overrides of how AWS is reached (credentials; tests add middleware). */
  connection?: Partial<AwsConnection>;
}

/**
 * The engine polls readiness in a tight loop (cheap on the local runtime); against ECS each poll
 * is a DescribeServices from the account's shared read budget (20/s), so one compute is asked at
 * most this often.
 */
export const READINESS_INTERVAL_MS = 1000;

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, Math.round(value)));

/**
 * Refuses credentials of another account than the environment declares: the outage this project
 * is built against began with production credentials in a terminal that looked like staging.
 */
export function checkAccount(env: EnvironmentConfig, account: string, arn: string): void {
  const declared = env.aws?.accountId;
  if (declared && declared !== account) {
    throw new RefusedError(
      `environment ${env.name} is AWS account ${declared}, but the credentials in use are account ${account} (${arn})`,
      {
        code: 'identity_mismatch',
        hint: `switch to credentials for account ${declared}, or check that ${env.name} is the environment you meant`,
      },
    );
  }
}

export async function createAwsProvider(
  env: EnvironmentConfig,
  options: AwsProviderOptions = {},
): Promise<Provider> {
  const settings = awsSettings(env);
  const connection = connectionFor(settings, options.connection);
  const apis: AwsApis = {
    ecs: createEcsApi(connection),
    elbv2: createElbv2Api(connection),
    route53: createRoute53Api(connection),
    tagging: createTaggingApi(connection),
  };
  const sts = createStsApi(connection);
  const logsApi = createLogsApi(connection);

  // The shared pieces are looked up once; when they are missing (no `env init` yet) commands that
  // need them say so, and those that do not (whoami, env ls) still work.
  let shared: SharedPieces | null = await findShared(apis.elbv2, settings, { listener: false }).catch(
    () => null,
  );
  const requireShared = async (): Promise<SharedPieces> => {
    shared ??= await findShared(apis.elbv2, settings, { listener: false });
    if (!shared) throw missingShared(settings, `load balancer (${settings.albName}) and listener`);
    return shared;
  };

  const primaryHost = (service: string) => `${service}.${settings.env}.${settings.domain}`;
  const pool = new AlbPool({ elbv2: apis.elbv2, settings, shared: requireShared });

  // Normalized and each once, as on the local provider: rules and records hold each name once,
  // lower-case and without a trailing dot, which is how ownership compares them.
  const hostnames = (spec: ServiceSpec, e: EnvironmentConfig) => [
    ...new Set([`${spec.name}.${e.name}.${awsSettings(e).domain}`, ...spec.domains].map(normalizeHostname)),
  ];
  const inZone = (host: string) => host === settings.domain || host.endsWith(`.${settings.domain}`);

  function desired(kind: ResourceKind, { env: e, spec, generation }: DesiredContext): DesiredResource[] {
    const tags = berthTags(e.name, spec.name, generation);
    const hosts = hostnames(spec, e);
    switch (kind) {
      case 'compute': {
        if (!spec.image) {
          throw new UserError(`${spec.name} has no image, which the AWS provider runs`, {
            hint: 'add image: <registry>/<repository>:<tag> to berth.yaml',
          });
        }
        const attributes: ComputeAttributes = {
          name: ecsServiceName(e.name, spec.name, generation),
          image: spec.image,
          port: spec.port,
          env: spec.env,
          // References only (SSM / Secrets Manager ARNs): ECS reads the values when a task starts.
          secrets: Object.fromEntries(
            Object.entries(spec.secrets ?? {}).map(([variable, name]) => [
              variable,
              secretValueFrom({ env: e.name, region: settings.region, accountId: settings.accountId }, name),
            ]),
          ),
          replicas: spec.replicas,
          targetGroup: targetGroupName(e.name, spec.name, generation),
          health: targetHealth(spec),
          hosts,
        };
        return [{ kind, key: 'compute', tags, attributes: attributes as unknown as Record<string, unknown> }];
      }
      case 'route': {
        const routes: DesiredResource[] = [];
        for (let i = 0; i < hosts.length; i += HOSTS_PER_RULE) {
          const chunk = hosts.slice(i, i + HOSTS_PER_RULE);
          const attributes: RouteAttributes = {
            hosts: chunk,
            targetGroup: targetGroupName(e.name, spec.name, generation),
            alb: pool.placementOf(spec.name)?.name ?? '',
          };
          routes.push({
            kind,
            key: chunk[0]!,
            tags,
            attributes: attributes as unknown as Record<string, unknown>,
            ...(attributes.alb ? { location: `load balancer ${attributes.alb}` } : {}),
          });
        }
        return routes;
      }
      case 'dns': {
        // berth writes names only in its hosted zone; other domains are the owner's to point at the ALB.
        if (!settings.hostedZoneId) return [];
        if (!shared) throw missingShared(settings, `load balancer (${settings.albName})`);
        // The service's own ALB (pool.ts); before it has one, where the first ALB is.
        const target = pool.placementOf(spec.name)?.dnsName ?? shared.albDnsName;
        return hosts
          .filter(inZone)
          .map((name) => ({ kind, key: name, tags, attributes: { name, type: 'CNAME', target } }));
      }
      case 'healthcheck': {
        const attributes: HealthCheckAttributes = {
          host: hosts[0]!,
          path: spec.health.path,
          port: 80,
          intervalSeconds: spec.health.intervalMs >= 30_000 ? 30 : 10,
          failureThreshold: clamp(spec.health.unhealthyThreshold, 1, 10),
        };
        return [
          { kind, key: 'healthcheck', tags, attributes: attributes as unknown as Record<string, unknown> },
        ];
      }
    }
  }

  const noDns = {
    kind: 'dns' as const,
    observeAll: async () => [],
    create: async () => {
      throw new UserError(`environment ${env.name} has no hostedZoneId`, {
        hint: 'add aws.hostedZoneId to it',
      });
    },
    update: async () => null,
    delete: async () => 'already-gone' as const,
    diff: () => [],
  };

  return {
    name: 'aws',
    drivers: {
      compute: awsComputeDriver({ apis, settings, shared: requireShared, pool }),
      route: awsRouteDriver({
        apis,
        env: settings.env,
        pool,
        primaryHost,
      }),
      dns: settings.hostedZoneId
        ? awsDnsDriver({ apis, hostedZoneId: settings.hostedZoneId, primaryHost })
        : noDns,
      healthcheck: awsHealthCheckDriver({ apis, env: settings.env, primaryHost }),
    },

    async identity(): Promise<VerifiedIdentity> {
      const caller = await sts.getCallerIdentity();
      checkAccount(env, caller.account, caller.arn);
      return {
        id: caller.account,
        description: `aws account ${caller.account} (${settings.region}) as ${caller.arn}`,
      };
    },

    hostnames,

    // Environments sharing a hosted zone: berth's record of each name says whose it is.
    async hostnameHolders(hosts) {
      if (!settings.hostedZoneId) return [];
      return route53HostnameHolders(
        { route53: apis.route53, hostedZoneId: settings.hostedZoneId, domain: settings.domain },
        hosts,
      );
    },

    async urls(spec, e) {
      return hostnames(spec, e).map((host) => `http://${host}/`);
    },

    desired,

    readinessPollMs: READINESS_INTERVAL_MS,
    async readiness(computeId): Promise<ComputeReadiness> {
      return computeReadiness(apis, settings.cluster, computeId);
    },

    async recentLogs(computeId, lines) {
      // Task logs live in CloudWatch Logs; ECS's own service events explain most failed starts.
      const out = await apis.ecs.describeServices({ cluster: settings.cluster, services: [computeId] });
      return (out.services?.[0]?.events ?? []).slice(0, lines).map((event) => `[ecs] ${event.message ?? ''}`);
    },

    async logs({ service, startTime, limit }) {
      return serviceLogLines(logsApi, settings.env, service, { startTime, limit });
    },

    async close() {
      logsApi.destroy();
      apis.ecs.destroy();
      apis.elbv2.destroy();
      apis.route53.destroy();
      apis.tagging.destroy();
      sts.destroy();
    },
  };
}

/** The target group health check from the spec, within what ALB allows. */
function targetHealth(spec: ServiceSpec): ComputeAttributes['health'] {
  const intervalSeconds = clamp(spec.health.intervalMs / 1000, 5, 300);
  return {
    path: spec.health.path,
    intervalSeconds,
    timeoutSeconds: clamp(spec.health.timeoutMs / 1000, 2, Math.min(120, intervalSeconds - 1)),
    healthyThreshold: clamp(spec.health.healthyThreshold, 2, 10),
    unhealthyThreshold: clamp(spec.health.unhealthyThreshold, 2, 10),
  };
}
