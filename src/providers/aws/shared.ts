/**
 * What every AWS driver shares: the environment's settings with their defaults, the names berth
 * gives things, the SDK wrappers, and the environment's shared pieces (cluster, ALB, listener),
 * which `berth env init` makes and the provider finds.
 */
import { createHash } from 'node:crypto';
import type { LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';

import { UserError } from '../../core/errors.js';
import { MANAGED_BY_VALUE, TAG_ENV, TAG_MANAGED_BY, TAG_SERVICE, type Tags } from '../../core/tags.js';
import type { AwsProviderSettings, EnvironmentConfig } from '../../spec/types.js';
import { DEFAULT_TABLE } from '../../state/dynamodb/table.js';
import type { ObserveScope } from '../provider.js';
import type { AwsConnection } from './clients.js';
import type { EcsApi } from './ecs.js';
import type { Elbv2Api } from './elbv2.js';
import type { Route53Api } from './route53.js';
import type { TaggingApi } from './tagging.js';

/** Tag on ELB rules that attach a compute's target group to the listener (not a route). */
export const TAG_PART = 'berth:part';

export interface ResolvedAwsSettings extends AwsProviderSettings {
  env: string;
  cluster: string;
  table: string;
  /** The ALB's name when berth made it (or should find it by name). */
  albName: string;
  /** Base of the generated host names `<service>.<env>.<domain>`. */
  domain: string;
}

/** The `aws` settings of an environment, with berth's defaults filled in. */
export function awsSettings(env: EnvironmentConfig): ResolvedAwsSettings {
  if (!env.aws) {
    throw new UserError(`environment ${env.name} has no aws settings`, {
      hint: "add aws: { accountId: '123456789012', region: eu-west-1 } to it in berth.config.yaml",
    });
  }
  return {
    ...env.aws,
    env: env.name,
    cluster: env.aws.cluster ?? `berth-${env.name}`,
    table: env.aws.table ?? DEFAULT_TABLE,
    albName: `berth-${env.name}`.slice(0, 32).replace(/-+$/, ''),
    domain: env.aws.domain ?? `${env.name}.berth.internal`,
  };
}

export function connectionFor(
  settings: AwsProviderSettings,
  extra: Partial<AwsConnection> = {},
): AwsConnection {
  return { region: settings.region, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}), ...extra };
}

export interface AwsApis {
  ecs: EcsApi;
  elbv2: Elbv2Api;
  route53: Route53Api;
  tagging: TaggingApi;
}

/** The environment's ALB and listener, and the network the services run in. */
export interface SharedPieces {
  albArn: string;
  albDnsName: string;
  listenerArn: string;
  vpcId: string;
  subnets: string[];
  securityGroups: string[];
}

/** The ECS service name of one generation: `<service>-<env>-g<generation>`. */
export function ecsServiceName(env: string, service: string, generation: number): string {
  return `${service}-${env}-g${generation}`;
}

/** The task definition family of a service in an environment. */
export function taskFamily(env: string, service: string): string {
  return `berth-${env}-${service}`;
}

/**
 * A target group name (at most 32 characters of letters, digits and '-'): the service name's
 * start, a hash of environment and service (so names never collide), and the generation.
 */
export function targetGroupName(env: string, service: string, generation: number): string {
  const hash = createHash('sha256').update(`${env}/${service}`).digest('hex').slice(0, 6);
  const suffix = `-${hash}-g${generation}`;
  const head = service.slice(0, 32 - suffix.length).replace(/-+$/, '');
  return `${head}${suffix}`;
}

/** `arn:aws:elasticloadbalancing:…:targetgroup/<name>/<id>` -> `<name>`. */
export function targetGroupNameOf(arn: string | undefined): string | null {
  return arn?.match(/:targetgroup\/([^/]+)\//)?.[1] ?? null;
}

/** The last path segment of an ARN (an ECS service's name). */
export function nameOfArn(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

/** True when `tags` are berth's and in the scope (environment, and service when given). */
export function inScope(tags: Tags, scope: ObserveScope): boolean {
  return (
    tags[TAG_MANAGED_BY] === MANAGED_BY_VALUE &&
    tags[TAG_ENV] === scope.env &&
    (scope.service === undefined || tags[TAG_SERVICE] === scope.service)
  );
}

export function missingShared(settings: ResolvedAwsSettings, what: string): UserError {
  return new UserError(`environment ${settings.env} has no ${what} yet`, {
    code: 'not_bootstrapped',
    hint: `create the shared pieces with: berth env init ${settings.env}`,
  });
}

async function loadBalancer(elbv2: Elbv2Api, settings: ResolvedAwsSettings): Promise<LoadBalancer | null> {
  try {
    if (settings.albArn) {
      return (
        (await elbv2.describeLoadBalancers({ LoadBalancerArns: [settings.albArn] })).LoadBalancers?.[0] ??
        null
      );
    }
    if (settings.listenerArn) {
      const listener = (await elbv2.describeListeners({ ListenerArns: [settings.listenerArn] }))
        .Listeners?.[0];
      if (!listener?.LoadBalancerArn) return null;
      const out = await elbv2.describeLoadBalancers({ LoadBalancerArns: [listener.LoadBalancerArn] });
      return out.LoadBalancers?.[0] ?? null;
    }
    return (await elbv2.describeLoadBalancers({ Names: [settings.albName] })).LoadBalancers?.[0] ?? null;
  } catch (error) {
    if (['LoadBalancerNotFoundException', 'ListenerNotFoundException'].includes((error as Error).name))
      return null;
    throw error;
  }
}

/** The ALB's listener berth puts rules on: the configured one, else HTTPS 443, else HTTP 80. */
export async function findListener(elbv2: Elbv2Api, albArn: string): Promise<string | null> {
  const listeners = (await elbv2.describeListeners({ LoadBalancerArn: albArn })).Listeners ?? [];
  const pick = listeners.find((l) => l.Port === 443) ?? listeners.find((l) => l.Port === 80) ?? listeners[0];
  return pick?.ListenerArn ?? null;
}

/**
 * Finds the shared pieces; null when the ALB or its listener does not exist yet. With
 * `listener: false` the listener is not looked up (listenerArn is then '' unless configured): the
 * provider asks for the listener of whichever ALB of the pool it needs, when it needs it.
 */
export async function findShared(
  elbv2: Elbv2Api,
  settings: ResolvedAwsSettings,
  options: { listener?: boolean } = {},
): Promise<SharedPieces | null> {
  const alb = await loadBalancer(elbv2, settings);
  if (!alb?.LoadBalancerArn) return null;
  const listenerArn =
    settings.listenerArn ??
    (options.listener === false ? '' : await findListener(elbv2, alb.LoadBalancerArn));
  if (listenerArn === null) return null;
  return {
    albArn: alb.LoadBalancerArn,
    albDnsName: (alb.DNSName ?? '').replace(/\.$/, '').toLowerCase(),
    listenerArn,
    vpcId: settings.vpcId ?? alb.VpcId ?? '',
    subnets:
      settings.subnets ??
      (alb.AvailabilityZones ?? []).map((zone) => zone.SubnetId).filter((id): id is string => Boolean(id)),
    securityGroups: settings.securityGroups ?? alb.SecurityGroups ?? [],
  };
}
