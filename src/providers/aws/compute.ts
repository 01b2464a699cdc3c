/**
 * Compute on AWS: one ECS service (Fargate, awsvpc) per generation, its task definition, and its
 * target group, which ECS registers the tasks in. AWS refuses to create a service on a target
 * group that no load balancer uses, so the new target group joins the service's own listener rule
 * with weight 0 (a weighted forward: the serving generation keeps all traffic) and the route
 * driver moves the traffic once the new tasks are healthy. A service's first generation creates
 * that rule, on the ALB the pool picks (pool.ts): one rule per service, not one per generation.
 *
 * Everything a deploy looks at is the service's own: found by tag (Resource Groups Tagging API),
 * by name or by ARN, never by listing the environment. A create that fails part-way removes what
 * it made (target group, rule, task definition) before it reports the failure.
 *
 * ECS realities (notes/aws.md): a service exists only while ACTIVE; a deleted one lingers as
 * DRAINING/INACTIVE and blocks its name, so `create` refuses a taken name with a ConflictError and
 * the engine moves on to the next generation's name instead of waiting.
 */
import type { ContainerDefinition, Service } from '@aws-sdk/client-ecs';
import type {
  Action,
  Rule,
  TargetGroup,
  TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';

import { ConflictError, TransientError } from '../../core/errors.js';
import { MANAGED_BY_VALUE, TAG_MANAGED_BY, TAG_SERVICE, type Tags } from '../../core/tags.js';
import { diffFields } from '../diff.js';
import type {
  ComputeReadiness,
  DesiredResource,
  ObservedResource,
  ResourceDriver,
  ResourceHealth,
} from '../provider.js';
import { awsErrorName } from './clients.js';
import { DELETE_TASK_DEFINITIONS_BATCH, DESCRIBE_SERVICES_BATCH } from './ecs.js';
import {
  HOSTS_PER_RULE,
  createRuleAtFreePriority,
  forwardAction,
  listTargetGroups,
  ruleTargets,
  tagsOf,
  toElbTags,
} from './elbv2.js';
import { AlbPool, TAG_ALB, quotaError, type Attachment, type PoolMember } from './pool.js';
import { serviceResources } from './tagging.js';
import { logGroupName } from './logs.js';
import {
  TAG_PART,
  inScope,
  nameOfArn,
  taskFamily,
  targetGroupNameOf,
  type AwsApis,
  type ResolvedAwsSettings,
  type SharedPieces,
} from './shared.js';

export const CONTAINER_NAME = 'app';
/** DescribeServices calls one sweep may make (2,000 services; see describeForSweep). */
export const SWEEP_DESCRIBE_CALLS = 200;
export const COMPUTE_HEADER = 'X-Berth-Compute';

/**
 * How long the load balancer lets requests in flight to a leaving task finish (its target is
 * `draining`) before it stops the task. AWS's default is 300 s, which makes every replace and
 * every delete wait five minutes for old tasks. Web requests finish in seconds, and ECS gives a
 * stopping container 30 s after SIGTERM (its default stopTimeout) anyway: 30 s lets them finish
 * and keeps a deploy's retirement of the old generation, and a delete, under a minute.
 */
export const DEREGISTRATION_DELAY_SECONDS = 30;

export interface TargetHealthSettings {
  path: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** What berth wants of a compute (DesiredResource.attributes for kind compute). */
export interface ComputeAttributes {
  name: string;
  image: string;
  port: number;
  env: Record<string, string>;
  /** Variable -> the ARN ECS reads it from (SSM parameter or Secrets Manager secret). */
  secrets: Record<string, string>;
  replicas: number;
  targetGroup: string;
  health: TargetHealthSettings;
  /**
   * The service's host names: a first generation creates the service's rule with the first five
   * (and the pool places it by how many rules all of them need). Not compared: routes own hosts.
   */
  hosts?: string[];
}

const DRAIN_ATTRIBUTES = { 'deregistration_delay.timeout_seconds': String(DEREGISTRATION_DELAY_SECONDS) };

const COMPUTE_FIELDS = ['name', 'image', 'port', 'env', 'secrets', 'replicas', 'targetGroup', 'health'];

export interface ComputeDeps {
  apis: AwsApis;
  settings: ResolvedAwsSettings;
  shared(): Promise<SharedPieces>;
  pool: AlbPool;
}

/** What a task definition runs; task definition revisions never change, so this is cached by ARN. */
interface TaskShape {
  image: string;
  port: number;
  env: Record<string, string>;
  secrets: Record<string, string>;
}
const taskShapes = new Map<string, TaskShape>();

function shapeOf(container: ContainerDefinition | undefined): TaskShape {
  const env: Record<string, string> = {};
  for (const pair of container?.environment ?? []) if (pair.name) env[pair.name] = pair.value ?? '';
  const secrets: Record<string, string> = {};
  for (const pair of container?.secrets ?? []) if (pair.name) secrets[pair.name] = pair.valueFrom ?? '';
  return {
    image: container?.image ?? '',
    port: container?.portMappings?.[0]?.containerPort ?? 0,
    env,
    secrets,
  };
}

export function ecsTags(list: { key?: string; value?: string }[] | undefined): Tags {
  const tags: Tags = {};
  for (const tag of list ?? []) if (tag.key) tags[tag.key] = tag.value ?? '';
  return tags;
}

/** Health from the primary deployment: healthy once its running count reached the desired count. */
export function serviceHealth(service: Service): ResourceHealth {
  const primary = service.deployments?.find((d) => d.status === 'PRIMARY') ?? service.deployments?.[0];
  const desired = service.desiredCount ?? 0;
  const running = primary?.runningCount ?? service.runningCount ?? 0;
  const detail = `${running}/${desired} tasks running${primary?.rolloutState ? ` (rollout ${primary.rolloutState.toLowerCase()})` : ''}`;
  if (primary?.rolloutState === 'FAILED')
    return { state: 'unhealthy', detail: primary.rolloutStateReason ?? detail };
  if (running >= desired) return { state: 'healthy', detail };
  return { state: 'progressing', detail };
}

/** What a target's state means while a deploy waits: the ALB sends traffic only to `healthy` ones. */
export interface TargetsPicture {
  /** Targets that receive traffic. */
  healthy: number;
  /** Targets registered and not leaving (draining ones are an older task on its way out). */
  registered: number;
  /** "targets: 1/2 healthy; 1 initial (Initial health checks in progress)". */
  detail: string;
}

/**
 * The load balancer's view of a target group's targets. A new task's target is `initial` until it
 * passed the health check `healthyThreshold` times in a row (registration delay), `unhealthy` when
 * it fails them, `draining` while it leaves (deregistration delay), `unused` when no rule forwards
 * to the group and `unavailable` when its health checks are off.
 */
export function targetsPicture(targets: TargetHealthDescription[], desired: number): TargetsPicture {
  const staying = targets.filter((target) => target.TargetHealth?.State !== 'draining');
  const draining = targets.length - staying.length;
  const byState = new Map<string, { count: number; reasons: Set<string> }>();
  for (const target of staying) {
    const state = target.TargetHealth?.State ?? 'unknown';
    const entry = byState.get(state) ?? { count: 0, reasons: new Set<string>() };
    entry.count += 1;
    const reason = target.TargetHealth?.Description ?? target.TargetHealth?.Reason;
    if (reason) entry.reasons.add(reason);
    byState.set(state, entry);
  }
  const healthy = byState.get('healthy')?.count ?? 0;
  const others = [...byState]
    .filter(([state]) => state !== 'healthy')
    .map(
      ([state, { count, reasons }]) =>
        `${count} ${state}${reasons.size ? ` (${[...reasons].join('; ')})` : ''}`,
    );
  if (draining) others.push(`${draining} draining (an older task leaving)`);
  return {
    healthy,
    registered: staying.length,
    detail: [`targets: ${healthy}/${desired} healthy`, ...others].join('; '),
  };
}

/**
 * Whether a compute's tasks serve: ECS counts a task running as soon as its container started,
 * but the load balancer sends it requests only once its target passed the health checks (a few
 * intervals later: `initial`). So once ECS reports every task running, the target group decides.
 * A group that lists no targets while ECS counts tasks running is taken at ECS's word: ECS
 * registers a task's target before it counts the task as running (ACTIVATING), so on AWS that
 * is a moment between two reads, or someone deregistered them behind berth's back (the sweep's
 * drift and the ALB's own health checks say so).
 */
export async function computeReadiness(
  apis: Pick<AwsApis, 'ecs' | 'elbv2'>,
  cluster: string,
  computeId: string,
): Promise<ComputeReadiness> {
  const out = await apis.ecs.describeServices({ cluster, services: [computeId] });
  const service = out.services?.[0];
  if (!service || service.status !== 'ACTIVE') {
    const detail = service ? `the ECS service is ${service.status}` : 'the ECS service is gone';
    return { ready: false, failed: true, healthy: 0, desired: 0, detail };
  }
  const primary = service.deployments?.find((d) => d.status === 'PRIMARY') ?? service.deployments?.[0];
  const health = serviceHealth(service);
  const desired = service.desiredCount ?? 0;
  const running = primary?.runningCount ?? service.runningCount ?? 0;
  const failed = primary?.rolloutState === 'FAILED';
  const groupArn = service.loadBalancers?.[0]?.targetGroupArn;
  if (health.state !== 'healthy' || failed || desired === 0 || !groupArn) {
    return {
      ready: health.state === 'healthy' && !failed,
      failed,
      healthy: running,
      desired,
      detail: health.detail,
    };
  }
  const targets = targetsPicture(await apis.elbv2.describeTargetHealth(groupArn), desired);
  if (targets.registered === 0) {
    return {
      ready: true,
      failed: false,
      healthy: running,
      desired,
      detail: `${health.detail}; the target group lists no targets`,
    };
  }
  return {
    ready: targets.healthy >= desired,
    failed: false,
    healthy: targets.healthy,
    desired,
    detail: `${health.detail}; ${targets.detail}`,
  };
}

export function awsComputeDriver(deps: ComputeDeps): ResourceDriver {
  const { apis, settings } = deps;
  const cluster = settings.cluster;

  async function describe(namesOrArns: string[]): Promise<Service[]> {
    const services: Service[] = [];
    for (let i = 0; i < namesOrArns.length; i += DESCRIBE_SERVICES_BATCH) {
      try {
        const out = await apis.ecs.describeServices({
          cluster,
          services: namesOrArns.slice(i, i + DESCRIBE_SERVICES_BATCH),
          include: ['TAGS'],
        });
        services.push(...(out.services ?? []));
      } catch (error) {
        if (awsErrorName(error) === 'ClusterNotFoundException') return [];
        throw error;
      }
    }
    return services;
  }

  /**
   * The ARNs of the cluster's services that berth may have made: it names them
   * <service>-<env>-g<n>, so only those are described (their tags decide).
   */
  async function listServiceArns(env: string, service?: string): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await apis.ecs.listServices({ cluster, maxResults: 100, nextToken });
        arns.push(...(page.serviceArns ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
    } catch (error) {
      if (awsErrorName(error) === 'ClusterNotFoundException') return [];
      throw error;
    }
    const pattern = new RegExp(`${service ? `^${escape(service)}` : ''}-${escape(env)}-g\\d+$`);
    return arns.filter((arn) => pattern.test(nameOfArn(arn)));
  }

  /**
   * What the last sweeps saw of each service, by ARN. A sweep describes every service while that
   * takes at most SWEEP_DESCRIBE_CALLS calls; in a larger cluster it describes the services it has
   * not seen, those not steady (a rollout under way, tasks missing) and, in turn, a slice of the
   * steady ones, so that a sweep stays within ECS's read budget (20/s) and time: a change behind
   * berth's back to a steady service is then seen within (services / 2,000) sweeps.
   */
  const described = new Map<string, Service>();
  let rotation = 0;

  async function describeForSweep(arns: string[]): Promise<Service[]> {
    const listed = new Set(arns);
    for (const arn of [...described.keys()]) if (!listed.has(arn)) described.delete(arn);
    const capacity = SWEEP_DESCRIBE_CALLS * DESCRIBE_SERVICES_BATCH;
    let wanted = arns;
    if (arns.length > capacity) {
      const steady = (service: Service | undefined) =>
        service?.status === 'ACTIVE' &&
        (service.deployments?.length ?? 0) <= 1 &&
        (service.runningCount ?? 0) >= (service.desiredCount ?? 0);
      const urgent = arns.filter((arn) => !steady(described.get(arn)));
      const rest = arns.filter((arn) => steady(described.get(arn)));
      const room = Math.max(0, capacity - urgent.length);
      const start = rest.length ? rotation % rest.length : 0;
      const slice = [...rest.slice(start), ...rest.slice(0, start)].slice(0, room);
      rotation = start + slice.length;
      wanted = [...urgent, ...slice];
    }
    for (const service of await describe(wanted))
      if (service.serviceArn) described.set(service.serviceArn, service);
    return arns.map((arn) => described.get(arn)).filter((service): service is Service => Boolean(service));
  }

  /**
   * Target groups (their health check settings) as the last listing or read by ARN saw them. A
   * sweep lists them all while it describes every service; in a larger cluster it lists them
   * every (services / 2,000) sweeps, as often as each steady service is described, and in
   * between reads by ARN only the groups it does not know (a new generation's). A listing of
   * 10,000 groups is 25 pages of the ELB read budget (10/s) that the listener rules share.
   */
  const groupsSeen = new Map<string, TargetGroup>();
  let sweepsSinceListing = Infinity;

  async function groupsForSweep(services: Service[], listed: number): Promise<TargetGroup[]> {
    const every = Math.ceil(listed / (SWEEP_DESCRIBE_CALLS * DESCRIBE_SERVICES_BATCH));
    if (sweepsSinceListing + 1 >= every) {
      const all = await listTargetGroups(apis.elbv2);
      groupsSeen.clear();
      for (const group of all) if (group.TargetGroupArn) groupsSeen.set(group.TargetGroupArn, group);
      sweepsSinceListing = 0;
      return all;
    }
    sweepsSinceListing += 1;
    const wanted = [
      ...new Set(
        services
          .map((service) => service.loadBalancers?.[0]?.targetGroupArn)
          .filter((arn): arn is string => Boolean(arn)),
      ),
    ];
    for (const group of await describeGroups(wanted.filter((arn) => !groupsSeen.has(arn))))
      if (group.TargetGroupArn) groupsSeen.set(group.TargetGroupArn, group);
    return wanted.flatMap((arn) => groupsSeen.get(arn) ?? []);
  }

  /** ECS services this process just made, by service: the tagging API lists them a little later. */
  const recent = new Map<string, Set<string>>();

  /** A service's ECS services and target groups, by tag (one call), plus those just made. */
  async function ownResources(service: string): Promise<{ services: string[]; groups: Map<string, Tags> }> {
    const found = await serviceResources(apis.tagging, settings.env, service, [
      'ecs:service',
      'elasticloadbalancing:targetgroup',
    ]);
    const services = new Set(recent.get(service) ?? []);
    const groups = new Map<string, Tags>();
    for (const resource of found) {
      if (resource.arn.includes(':targetgroup/')) groups.set(resource.arn, resource.tags);
      else if (resource.arn.includes(`:service/${cluster}/`)) services.add(resource.arn);
    }
    // Where the service lives, for routes and DNS (the pool reads it synchronously).
    const alb = [...groups.values()].map((tags) => tags[TAG_ALB]).find(Boolean);
    if (alb) await deps.pool.notePlacement(service, alb);
    return { services: [...services], groups };
  }

  /** The target groups of the given ARNs (one call per 20... AWS takes up to 20 ARNs per call). */
  async function describeGroups(arns: string[]): Promise<TargetGroup[]> {
    const groups: TargetGroup[] = [];
    for (let i = 0; i < arns.length; i += 20) {
      try {
        const out = await apis.elbv2.describeTargetGroups({ TargetGroupArns: arns.slice(i, i + 20) });
        groups.push(...(out.TargetGroups ?? []));
      } catch (error) {
        if (awsErrorName(error) !== 'TargetGroupNotFoundException') throw error;
        // One of them is gone: ask one at a time.
        for (const arn of arns.slice(i, i + 20)) {
          const one = await apis.elbv2
            .describeTargetGroups({ TargetGroupArns: [arn] })
            .catch((e: unknown) =>
              awsErrorName(e) === 'TargetGroupNotFoundException' ? null : Promise.reject(e),
            );
          groups.push(...(one?.TargetGroups ?? []));
        }
      }
    }
    return groups;
  }

  /**
   * A look at one service adds the load balancer's view (a per-item call a sweep leaves out): a
   * service whose tasks all run serves only once its targets are healthy, so until then it is
   * progressing (targets `initial`) or unhealthy (targets failing their checks), and says so.
   */
  async function withTargets(services: Service[], observed: ObservedResource[]): Promise<ObservedResource[]> {
    return Promise.all(
      observed.map(async (resource, index) => {
        const service = services[index];
        const groupArn = service?.loadBalancers?.[0]?.targetGroupArn;
        const desired = service?.desiredCount ?? 0;
        if (!groupArn || desired === 0 || resource.health?.state !== 'healthy') return resource;
        const targets = await apis.elbv2.describeTargetHealth(groupArn).catch((error: unknown) => {
          if (awsErrorName(error) === 'TargetGroupNotFoundException') return [];
          throw error;
        });
        const picture = targetsPicture(targets, desired);
        if (picture.registered === 0) return resource; // taken at ECS's word (see computeReadiness)
        const failing = targets.some((target) => target.TargetHealth?.State === 'unhealthy');
        const state = picture.healthy >= desired ? 'healthy' : failing ? 'unhealthy' : 'progressing';
        return { ...resource, health: { state, detail: `${resource.health.detail}; ${picture.detail}` } };
      }),
    );
  }

  /**
   * Deregisters and deletes the task definitions berth registered for `service` that no other of
   * its ECS services (ACTIVE or DRAINING) still uses, so that a deleted service leaves nothing
   * tagged behind (the Resource Groups Tagging API lists task definitions, deregistered ones too).
   */
  async function retireTaskDefinitions(service: string, deletedArn: string): Promise<void> {
    const family = taskFamily(settings.env, service);
    const inUse = new Set(
      (await describe((await ownResources(service)).services))
        .filter((other) => other.status !== 'INACTIVE' && other.serviceArn !== deletedArn)
        .map((other) => other.taskDefinition),
    );
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await apis.ecs.listTaskDefinitions({ familyPrefix: family, status: 'ACTIVE', nextToken });
      arns.push(...(page.taskDefinitionArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const retired: string[] = [];
    for (const arn of arns) {
      // The prefix also matches other services' families (web, web2): the family must be exact.
      if (nameOfArn(arn).replace(/:\d+$/, '') !== family || inUse.has(arn)) continue;
      const out = await apis.ecs.describeTaskDefinition({ taskDefinition: arn, include: ['TAGS'] });
      if (ecsTags(out.tags)[TAG_MANAGED_BY] !== MANAGED_BY_VALUE) continue; // berth's own only
      try {
        await apis.ecs.deregisterTaskDefinition(arn);
      } catch (error) {
        if (awsErrorName(error) !== 'ClientException') throw error; // already gone
        continue;
      }
      retired.push(arn);
      taskShapes.delete(arn);
    }
    // Deregistered ones stay listed (INACTIVE) until deleted; failures (already deleted) are fine.
    for (let i = 0; i < retired.length; i += DELETE_TASK_DEFINITIONS_BATCH) {
      await apis.ecs.deleteTaskDefinitions({
        taskDefinitions: retired.slice(i, i + DELETE_TASK_DEFINITIONS_BATCH),
      });
    }
  }

  async function taskShape(arn: string | undefined): Promise<TaskShape> {
    if (!arn) return { image: '', port: 0, env: {}, secrets: {} };
    let shape = taskShapes.get(arn);
    if (!shape) {
      const out = await apis.ecs.describeTaskDefinition({ taskDefinition: arn });
      shape = shapeOf(out.taskDefinition?.containerDefinitions?.find((c) => c.name === CONTAINER_NAME));
      taskShapes.set(arn, shape);
    }
    return shape;
  }

  /**
   * Observed computes. A sweep passes every target group (one listing, pages of 400); a single
   * service's look describes only its own.
   */
  async function observedMany(services: Service[], known?: TargetGroup[]): Promise<ObservedResource[]> {
    if (services.length === 0) return [];
    const wanted = services
      .map((service) => service.loadBalancers?.[0]?.targetGroupArn)
      .filter((arn): arn is string => Boolean(arn));
    const groups = new Map(
      (known ?? (await describeGroups([...new Set(wanted)]))).map((group) => [group.TargetGroupArn, group]),
    );
    const result: ObservedResource[] = [];
    for (const service of services) {
      const tgArn = service.loadBalancers?.[0]?.targetGroupArn;
      const group = groups.get(tgArn);
      const shape = await taskShape(service.taskDefinition);
      const attributes: ComputeAttributes = {
        name: service.serviceName ?? '',
        image: shape.image,
        port: shape.port,
        env: shape.env,
        secrets: shape.secrets,
        replicas: service.desiredCount ?? 0,
        targetGroup: targetGroupNameOf(tgArn) ?? '',
        health: {
          path: group?.HealthCheckPath ?? '',
          intervalSeconds: group?.HealthCheckIntervalSeconds ?? 0,
          timeoutSeconds: group?.HealthCheckTimeoutSeconds ?? 0,
          healthyThreshold: group?.HealthyThresholdCount ?? 0,
          unhealthyThreshold: group?.UnhealthyThresholdCount ?? 0,
        },
      };
      result.push({
        kind: 'compute',
        providerId: service.serviceArn ?? '',
        key: 'compute',
        name: service.serviceName ?? '',
        attributes: attributes as unknown as Record<string, unknown>,
        tags: ecsTags(service.tags),
        health: serviceHealth(service),
      });
    }
    return result;
  }

  async function registerTask(want: ComputeAttributes, tags: Tags, service: string): Promise<string> {
    const out = await apis.ecs.registerTaskDefinition({
      family: taskFamily(settings.env, service),
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      ...(settings.executionRoleArn ? { executionRoleArn: settings.executionRoleArn } : {}),
      containerDefinitions: [
        {
          name: CONTAINER_NAME,
          image: want.image,
          essential: true,
          portMappings: [{ containerPort: want.port, protocol: 'tcp' }],
          environment: Object.entries(want.env).map(([name, value]) => ({ name, value })),
          // Task output goes to the environment's log group (env init makes it): berth logs reads it.
          logConfiguration: {
            logDriver: 'awslogs',
            options: {
              'awslogs-group': logGroupName(settings.env),
              'awslogs-region': settings.region,
              'awslogs-stream-prefix': service,
            },
          },
          secrets: Object.entries(want.secrets ?? {}).map(([name, valueFrom]) => ({ name, valueFrom })),
        },
      ],
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    });
    const arn = out.taskDefinition?.taskDefinitionArn;
    if (!arn) throw new Error('RegisterTaskDefinition returned no ARN');
    taskShapes.set(arn, { image: want.image, port: want.port, env: want.env, secrets: want.secrets ?? {} });
    return arn;
  }

  function healthInput(health: TargetHealthSettings) {
    return {
      HealthCheckPath: health.path,
      HealthCheckIntervalSeconds: health.intervalSeconds,
      HealthCheckTimeoutSeconds: health.timeoutSeconds,
      HealthyThresholdCount: health.healthyThreshold,
      UnhealthyThresholdCount: health.unhealthyThreshold,
    };
  }

  /**
   * The compute's target group: created (tagged with the ALB it will be on), or, left by an
   * interrupted create, brought up to date. Says whether this call made it.
   */
  async function ensureTargetGroup(
    want: ComputeAttributes,
    tags: Tags,
    shared: SharedPieces,
  ): Promise<{ arn: string; made: boolean }> {
    try {
      const out = await apis.elbv2.createTargetGroup({
        Name: want.targetGroup,
        Protocol: 'HTTP',
        Port: want.port,
        VpcId: shared.vpcId,
        TargetType: 'ip',
        Matcher: { HttpCode: '200-399' },
        ...healthInput(want.health),
        Tags: toElbTags(tags),
      });
      const arn = out.TargetGroups?.[0]?.TargetGroupArn;
      if (!arn) throw new Error('CreateTargetGroup returned no ARN');
      try {
        await apis.elbv2.setTargetGroupAttributes(arn, DRAIN_ATTRIBUTES);
      } catch (failure) {
        // A group that would drain for AWS's 300 s is not left behind half made.
        await apis.elbv2.deleteTargetGroup(arn).catch(() => undefined);
        throw failure;
      }
      return { arn, made: true };
    } catch (error) {
      if (
        awsErrorName(error) === 'TooManyTargetGroupsException' ||
        awsErrorName(error) === 'TooManyTargetGroups'
      ) {
        const limits = await deps.pool.limits();
        throw quotaError(
          'targetGroupsPerRegion',
          `the region's target groups are at AWS's limit (${limits.targetGroupsPerRegion}); nothing was changed`,
        );
      }
      if (awsErrorName(error) !== 'DuplicateTargetGroupName') throw error;
      const existing = (await apis.elbv2.describeTargetGroups({ Names: [want.targetGroup] }))
        .TargetGroups?.[0];
      if (!existing?.TargetGroupArn) throw error;
      await apis.elbv2.modifyTargetGroup({
        TargetGroupArn: existing.TargetGroupArn,
        ...healthInput(want.health),
      });
      groupsSeen.delete(existing.TargetGroupArn);
      await apis.elbv2.setTargetGroupAttributes(existing.TargetGroupArn, DRAIN_ATTRIBUTES);
      await apis.elbv2.addTags({ ResourceArns: [existing.TargetGroupArn], Tags: toElbTags(tags) });
      return { arn: existing.TargetGroupArn, made: false };
    }
  }

  /** What attaching a new target group changed, so that a failed create can put it back. */
  type Attached =
    | { kind: 'created'; ruleArn: string }
    | { kind: 'joined'; ruleArn: string; before: Action[] }
    | { kind: 'already' };

  /**
   * Puts the new target group on the service's rule: beside the serving one with weight 0, or, for
   * the service's first generation (or one whose rule is gone), in a new rule on its ALB.
   */
  async function attach(
    tgArn: string,
    want: ComputeAttributes,
    tags: Tags,
    found: Attachment | null,
    member: PoolMember,
  ): Promise<Attached> {
    if (found) {
      if (found.rules.some((rule) => ruleTargets(rule).some((t) => t.arn === tgArn)))
        return { kind: 'already' };
      const rule = primaryRule(found.rules, want.hosts ?? []);
      const targets = ruleTargets(rule);
      await apis.elbv2.modifyRule({
        RuleArn: rule.RuleArn!,
        Actions: [forwardAction([...targets, { arn: tgArn, weight: 0 }])],
      });
      return { kind: 'joined', ruleArn: rule.RuleArn!, before: rule.Actions ?? [] };
    }
    const hosts = (want.hosts ?? []).slice(0, HOSTS_PER_RULE);
    const rule = await createRuleAtFreePriority(apis.elbv2, {
      ListenerArn: await deps.pool.listenerOf(member),
      Conditions: hosts.length
        ? [{ Field: 'host-header', HostHeaderConfig: { Values: hosts } }]
        : [
            {
              Field: 'http-header',
              HttpHeaderConfig: { HttpHeaderName: COMPUTE_HEADER, Values: [want.name] },
            },
          ],
      Actions: [forwardAction([{ arn: tgArn, weight: 1 }])],
      Tags: toElbTags(tags),
    });
    return { kind: 'created', ruleArn: rule.RuleArn! };
  }

  /** Undoes `attach` (best effort: the failure being reported matters more). */
  async function detach(attached: Attached): Promise<void> {
    if (attached.kind === 'created') {
      await apis.elbv2.deleteRule(attached.ruleArn).catch(ignore('RuleNotFoundException'));
    } else if (attached.kind === 'joined') {
      await apis.elbv2.modifyRule({ RuleArn: attached.ruleArn, Actions: attached.before });
    }
  }

  /**
   * Checks the quotas this create will touch before it changes anything: the target groups of the
   * service's ALB (a new generation adds one beside the serving one), or, for a service not yet on
   * an ALB, a place in the pool (rules and target groups per ALB, ALBs per region).
   */
  async function preflight(
    service: string,
    want: ComputeAttributes,
    found: Attachment | null,
  ): Promise<{ member: PoolMember; done(): void }> {
    if (found) {
      const limits = await deps.pool.limits();
      const use = await deps.pool.use(found.member);
      if (use.targetGroups + 1 > limits.targetGroupsPerAlb) {
        throw quotaError(
          'targetGroupsPerAlb',
          `load balancer ${found.member.name} already forwards to ${use.targetGroups} target groups of ${limits.targetGroupsPerAlb}, and ${service}'s new generation needs one more beside the serving one`,
          false,
        );
      }
      return { member: found.member, done: () => undefined };
    }
    const rules = Math.max(1, Math.ceil((want.hosts?.length ?? 0) / HOSTS_PER_RULE));
    return deps.pool.place(service, rules);
  }

  /** Removes what a failed create made, in reverse order; the original failure is what is reported. */
  async function undoCreate(made: { tgArn?: string; attached?: Attached; taskDefinition?: string }) {
    const steps: (() => Promise<unknown>)[] = [];
    if (made.attached) steps.push(() => detach(made.attached!));
    if (made.tgArn) steps.push(() => apis.elbv2.deleteTargetGroup(made.tgArn!));
    if (made.taskDefinition) {
      steps.push(async () => {
        await apis.ecs.deregisterTaskDefinition(made.taskDefinition!);
        await apis.ecs.deleteTaskDefinitions({ taskDefinitions: [made.taskDefinition!] });
      });
    }
    for (const step of steps) await step().catch(() => undefined);
  }

  /**
   * A target group goes only once no task is registered in it: deleting it earlier would cut the
   * requests in flight to tasks that are draining (for DEREGISTRATION_DELAY_SECONDS once ECS
   * deregisters them; a task just told to stop may still be `healthy` for a moment). Until then
   * the removal is retried (TransientError), and the step says what it waits for.
   */
  async function assertDrained(arn: string): Promise<void> {
    const targets = await apis.elbv2.describeTargetHealth(arn).catch((error: unknown) => {
      if (awsErrorName(error) === 'TargetGroupNotFoundException') return [];
      throw error;
    });
    if (targets.length === 0) return;
    const draining = targets.filter((target) => target.TargetHealth?.State === 'draining').length;
    const still = targets.length - draining;
    const parts = [
      draining ? `${draining} draining` : '',
      still ? `${still} not yet deregistered (the ECS service is stopping its tasks)` : '',
    ].filter(Boolean);
    throw new TransientError(
      `target group ${targetGroupNameOf(arn) ?? arn} still has ${targets.length} ${targets.length === 1 ? 'target' : 'targets'}: ${parts.join(', ')}; ` +
        `requests in flight get up to ${DEREGISTRATION_DELAY_SECONDS}s to finish before it is deleted`,
    );
  }

  /** Removes a compute's target groups (berth's own): off the rules they share, then deleted. */
  async function removeTargetGroups(arns: string[]): Promise<void> {
    if (arns.length === 0) return;
    const tags = await tagsOf(apis.elbv2, arns).catch((error: unknown) => {
      if (awsErrorName(error) === 'TargetGroupNotFoundException') return new Map<string, Tags>();
      throw error;
    });
    const ours = new Map(
      arns
        .filter((arn) => tags.get(arn)?.[TAG_MANAGED_BY] === MANAGED_BY_VALUE)
        .map((arn) => [arn, tags.get(arn)!]),
    );
    if (ours.size === 0) return;
    const found = await deps.pool.serviceRules('', ours);
    for (const rule of found?.rules ?? []) {
      const targets = ruleTargets(rule);
      const rest = targets.filter((t) => !ours.has(t.arn));
      if (rest.length > 0) {
        // A rule shared with the serving generation: take this one out of the weighted forward.
        const weights = rest.some((t) => t.weight > 0) ? rest : rest.map((t) => ({ ...t, weight: 1 }));
        await apis.elbv2
          .modifyRule({ RuleArn: rule.RuleArn!, Actions: [forwardAction(weights)] })
          .catch(ignore('RuleNotFoundException'));
        continue;
      }
      const ruleTags = (await tagsOf(apis.elbv2, [rule.RuleArn!])).get(rule.RuleArn!) ?? {};
      // An older berth's rule that only attached the target group (not a route): it goes too.
      if (ruleTags[TAG_PART] === 'compute') {
        await apis.elbv2.deleteRule(rule.RuleArn!).catch(ignore('RuleNotFoundException'));
      }
      // Otherwise a route still sends its hosts here: the route driver switches or removes it first.
    }
    for (const arn of ours.keys()) {
      await assertDrained(arn);
      try {
        await apis.elbv2.deleteTargetGroup(arn);
      } catch (error) {
        if (awsErrorName(error) === 'TargetGroupNotFoundException') continue;
        // Still used by a route (the route is switched or removed first): try again shortly.
        if (awsErrorName(error) === 'ResourceInUseException') {
          throw new TransientError(`target group ${arn} is still in use`, { cause: error });
        }
        throw error;
      }
    }
  }

  return {
    kind: 'compute',

    async observeAll(scope) {
      if (scope.service !== undefined) {
        // One service (a deploy, a plan): its own resources by tag, never the whole cluster.
        const own = await ownResources(scope.service);
        const services = (await describe(own.services)).filter(
          (service) => service.status === 'ACTIVE' && inScope(ecsTags(service.tags), scope),
        );
        const unique = [...new Map(services.map((service) => [service.serviceArn, service])).values()];
        return withTargets(unique, await observedMany(unique));
      }
      const candidates = await listServiceArns(scope.env, scope.service);
      const services = (await describeForSweep(candidates)).filter(
        (service) => service.status === 'ACTIVE' && inScope(ecsTags(service.tags), scope),
      );
      const unique = [...new Map(services.map((service) => [service.serviceArn, service])).values()];
      // Every service's health settings: a listing of target groups (pages of 400), or what it saw.
      return observedMany(unique, unique.length ? await groupsForSweep(unique, candidates.length) : []);
    },

    async create(desired) {
      const want = desired.attributes as unknown as ComputeAttributes;
      const service = desired.tags[TAG_SERVICE] ?? want.name;
      const [existing] = await describe([want.name]);
      if (existing && (existing.status === 'ACTIVE' || existing.status === 'DRAINING')) {
        // AWS refuses a name that is ACTIVE or DRAINING (moto would silently replace it): say so first.
        throw new ConflictError(`the ECS service name ${want.name} is taken (${existing.status})`, {
          hint: 'berth creates the next generation under a new name',
        });
      }
      const shared = await deps.shared();
      const own = await ownResources(service);
      const found = await deps.pool.serviceRules(service, own.groups);
      // Quotas first: a deploy that cannot fit fails here, before anything is made.
      const place = await preflight(service, want, found);
      const made: { tgArn?: string; attached?: Attached; taskDefinition?: string } = {};
      try {
        const group = await ensureTargetGroup(
          want,
          { ...desired.tags, [TAG_ALB]: place.member.name },
          shared,
        );
        if (group.made) made.tgArn = group.arn;
        try {
          made.attached = await attach(group.arn, want, desired.tags, found, place.member);
        } catch (error) {
          if (['TooManyRules', 'TooManyRulesException'].includes(awsErrorName(error))) {
            const limits = await deps.pool.limits();
            throw quotaError(
              'rulesPerAlb',
              `load balancer ${place.member.name} holds ${limits.rulesPerAlb} rules (AWS refused one more: ${(error as Error).message})`,
            );
          }
          if (['TooManyTargetGroupsException', 'TooManyTargetGroups'].includes(awsErrorName(error))) {
            throw quotaError(
              'targetGroupsPerAlb',
              `load balancer ${place.member.name}: ${(error as Error).message}`,
              false,
            );
          }
          throw error;
        }
        made.taskDefinition = await registerTask(want, desired.tags, service);
        try {
          await apis.ecs.createService({
            cluster,
            serviceName: want.name,
            taskDefinition: made.taskDefinition,
            desiredCount: want.replicas,
            launchType: 'FARGATE',
            networkConfiguration: {
              awsvpcConfiguration: {
                subnets: shared.subnets,
                securityGroups: shared.securityGroups,
                assignPublicIp: 'DISABLED',
              },
            },
            loadBalancers: [
              { targetGroupArn: group.arn, containerName: CONTAINER_NAME, containerPort: want.port },
            ],
            tags: Object.entries(desired.tags).map(([key, value]) => ({ key, value })),
            propagateTags: 'SERVICE',
          });
        } catch (error) {
          if (
            awsErrorName(error) === 'InvalidParameterException' &&
            /idempotent/i.test((error as Error).message)
          ) {
            throw new ConflictError(`the ECS service name ${want.name} is taken`, { cause: error });
          }
          throw error;
        }
      } catch (error) {
        await undoCreate(made);
        throw error;
      } finally {
        place.done();
      }
      const [created] = await describe([want.name]);
      if (!created) throw new TransientError(`ECS service ${want.name} is not visible yet`);
      if (created.serviceArn) {
        const set = recent.get(service) ?? new Set<string>();
        set.add(created.serviceArn);
        recent.set(service, set);
      }
      return (await observedMany([created]))[0]!;
    },

    async update(providerId, desired: DesiredResource) {
      const want = desired.attributes as unknown as ComputeAttributes;
      const [current] = await describe([providerId]);
      if (!current || current.status !== 'ACTIVE') return null;
      const [have] = await observedMany([current]);
      const changed = new Set(diffFields(desired, have!, COMPUTE_FIELDS).map((d) => d.field));
      let taskDefinition: string | undefined;
      if (changed.has('image') || changed.has('port') || changed.has('env')) {
        taskDefinition = await registerTask(want, desired.tags, desired.tags['berth:service'] ?? want.name);
      }
      if (changed.has('health')) {
        const tgArn = current.loadBalancers?.[0]?.targetGroupArn;
        if (tgArn) {
          await apis.elbv2.modifyTargetGroup({ TargetGroupArn: tgArn, ...healthInput(want.health) });
          // The next sweep reads it again by ARN, not as the last listing saw it.
          groupsSeen.delete(tgArn);
        }
      }
      if (taskDefinition || changed.has('replicas')) {
        await apis.ecs.updateService({
          cluster,
          service: providerId,
          desiredCount: want.replicas,
          ...(taskDefinition ? { taskDefinition } : {}),
        });
      }
      const [after] = await describe([providerId]);
      // A sweep that would describe this service only in turn sees berth's own change at once.
      if (after?.serviceArn && described.has(after.serviceArn)) described.set(after.serviceArn, after);
      return after ? ((await observedMany([after]))[0] ?? null) : null;
    },

    async delete(providerId) {
      const [current] = await describe([providerId]);
      const groups = (current?.loadBalancers ?? [])
        .map((lb) => lb.targetGroupArn)
        .filter((arn): arn is string => Boolean(arn));
      let outcome: 'deleted' | 'already-gone' = 'already-gone';
      if (current?.status === 'ACTIVE') {
        try {
          await apis.ecs.deleteService({ cluster, service: providerId, force: true });
          outcome = 'deleted';
        } catch (error) {
          if (
            awsErrorName(error) !== 'ServiceNotFoundException' &&
            awsErrorName(error) !== 'ServiceNotActiveException'
          )
            throw error;
        }
      }
      // A service deleted behind berth's back leaves its target group: it goes too.
      await removeTargetGroups(groups);
      // And its task definitions: berth's name for the service, from its tags or its ECS name.
      const service =
        ecsTags(current?.tags)[TAG_SERVICE] ??
        nameOfArn(providerId).match(new RegExp(`^(.+)-${escape(settings.env)}-g\\d+$`))?.[1];
      if (service) await retireTaskDefinitions(service, current?.serviceArn ?? providerId);
      return outcome;
    },

    diff(desired, observed) {
      return diffFields(desired, observed, COMPUTE_FIELDS);
    },
  };
}

/** The rule that holds the service's first host names (the one a new generation joins). */
function primaryRule(rules: Rule[], hosts: string[]): Rule {
  const first = hosts[0]?.toLowerCase();
  const holds = (rule: Rule) =>
    rule.Conditions?.some((c) =>
      (c.HostHeaderConfig?.Values ?? c.Values ?? []).some((v) => v.toLowerCase() === first),
    );
  return (
    rules.find(holds) ??
    [...rules].sort((a, b) => Number(a.Priority ?? Infinity) - Number(b.Priority ?? Infinity))[0]!
  );
}

function ignore(name: string) {
  return (error: unknown) => {
    if (awsErrorName(error) !== name) throw error;
  };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
