/**
 * Compute on AWS: one ECS service (Fargate, awsvpc) per generation, its task definition, and its
 * target group, which ECS registers the tasks in. The target group is attached to the listener by
 * a rule that matches only the header `X-Berth-Compute: <ECS service name>` (AWS refuses to
 * create a service on a target group that no load balancer uses, and the header lets an operator
 * reach one generation directly); traffic is switched to it by the route driver.
 *
 * ECS realities (notes/aws.md): a service exists only while ACTIVE; a deleted one lingers as
 * DRAINING/INACTIVE and blocks its name, so `create` refuses a taken name with a ConflictError and
 * the engine moves on to the next generation's name instead of waiting.
 */
import type { ContainerDefinition, Service } from '@aws-sdk/client-ecs';

import { ConflictError, TransientError } from '../../core/errors.js';
import { MANAGED_BY_VALUE, TAG_MANAGED_BY, TAG_SERVICE, type Tags } from '../../core/tags.js';
import { diffFields } from '../diff.js';
import type { DesiredResource, ObservedResource, ResourceDriver, ResourceHealth } from '../provider.js';
import { awsErrorName } from './clients.js';
import { DELETE_TASK_DEFINITIONS_BATCH, DESCRIBE_SERVICES_BATCH } from './ecs.js';
import { createRuleAtFreePriority, listRules, listTargetGroups, tagsOf, toElbTags } from './elbv2.js';
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
export const COMPUTE_HEADER = 'X-Berth-Compute';

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
}

const COMPUTE_FIELDS = ['name', 'image', 'port', 'env', 'secrets', 'replicas', 'targetGroup', 'health'];

export interface ComputeDeps {
  apis: AwsApis;
  settings: ResolvedAwsSettings;
  shared(): Promise<SharedPieces>;
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
   * Deregisters and deletes the task definitions berth registered for `service` that no other of
   * its ECS services (ACTIVE or DRAINING) still uses, so that a deleted service leaves nothing
   * tagged behind (the Resource Groups Tagging API lists task definitions, deregistered ones too).
   */
  async function retireTaskDefinitions(service: string, deletedArn: string): Promise<void> {
    const family = taskFamily(settings.env, service);
    const inUse = new Set(
      (await describe(await listServiceArns(settings.env, service)))
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

  async function observedMany(services: Service[]): Promise<ObservedResource[]> {
    if (services.length === 0) return [];
    // One listing of target groups (pages of 400) gives every service's health settings.
    const groups = new Map(
      (await listTargetGroups(apis.elbv2)).map((group) => [group.TargetGroupArn, group]),
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

  /** The compute's target group: created, or (left by an interrupted create) brought up to date. */
  async function ensureTargetGroup(
    want: ComputeAttributes,
    tags: Tags,
    shared: SharedPieces,
  ): Promise<string> {
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
      return arn;
    } catch (error) {
      if (awsErrorName(error) !== 'DuplicateTargetGroupName') throw error;
      const existing = (await apis.elbv2.describeTargetGroups({ Names: [want.targetGroup] }))
        .TargetGroups?.[0];
      if (!existing?.TargetGroupArn) throw error;
      await apis.elbv2.modifyTargetGroup({
        TargetGroupArn: existing.TargetGroupArn,
        ...healthInput(want.health),
      });
      return existing.TargetGroupArn;
    }
  }

  /** The header rule that attaches a target group to the listener (created once). */
  async function ensureAttachRule(
    name: string,
    tgArn: string,
    tags: Tags,
    shared: SharedPieces,
  ): Promise<void> {
    const rules = await listRules(apis.elbv2, shared.listenerArn);
    const attached = rules.some((rule) => rule.Actions?.some((action) => forwardsTo(action, tgArn)));
    if (attached) return;
    await createRuleAtFreePriority(apis.elbv2, {
      ListenerArn: shared.listenerArn,
      Conditions: [
        { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: COMPUTE_HEADER, Values: [name] } },
      ],
      Actions: [{ Type: 'forward', TargetGroupArn: tgArn }],
      Tags: toElbTags({ ...tags, [TAG_PART]: 'compute' }),
    });
  }

  /** Removes a compute's target group and the rules that only attach it; berth's own only. */
  async function removeTargetGroups(arns: string[]): Promise<void> {
    if (arns.length === 0) return;
    const tags = await tagsOf(apis.elbv2, arns).catch((error: unknown) => {
      if (awsErrorName(error) === 'TargetGroupNotFoundException') return new Map<string, Tags>();
      throw error;
    });
    const ours = arns.filter((arn) => tags.get(arn)?.[TAG_MANAGED_BY] === MANAGED_BY_VALUE);
    if (ours.length === 0) return;
    const shared = await deps.shared();
    for (const rule of await listRules(apis.elbv2, shared.listenerArn)) {
      if (rule.IsDefault || !rule.RuleArn) continue;
      if (!rule.Actions?.some((action) => ours.some((arn) => forwardsTo(action, arn)))) continue;
      const ruleTags = (await tagsOf(apis.elbv2, [rule.RuleArn])).get(rule.RuleArn) ?? {};
      if (ruleTags[TAG_PART] !== 'compute') continue; // a route still pointing here: the route driver's
      await apis.elbv2.deleteRule(rule.RuleArn).catch(ignore('RuleNotFoundException'));
    }
    for (const arn of ours) {
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
      const candidates = await listServiceArns(scope.env, scope.service);
      const services = (await describe(candidates)).filter(
        (service) => service.status === 'ACTIVE' && inScope(ecsTags(service.tags), scope),
      );
      // The tagging API can list a resource twice: keep one per ARN.
      const unique = [...new Map(services.map((service) => [service.serviceArn, service])).values()];
      return observedMany(unique);
    },

    async create(desired) {
      const want = desired.attributes as unknown as ComputeAttributes;
      const service = desired.tags['berth:service'] ?? want.name;
      const [existing] = await describe([want.name]);
      if (existing && (existing.status === 'ACTIVE' || existing.status === 'DRAINING')) {
        // AWS refuses a name that is ACTIVE or DRAINING (moto would silently replace it): say so first.
        throw new ConflictError(`the ECS service name ${want.name} is taken (${existing.status})`, {
          hint: 'berth creates the next generation under a new name',
        });
      }
      const shared = await deps.shared();
      const tgArn = await ensureTargetGroup(want, desired.tags, shared);
      await ensureAttachRule(want.name, tgArn, desired.tags, shared);
      const taskDefinition = await registerTask(want, desired.tags, service);
      try {
        await apis.ecs.createService({
          cluster,
          serviceName: want.name,
          taskDefinition,
          desiredCount: want.replicas,
          launchType: 'FARGATE',
          networkConfiguration: {
            awsvpcConfiguration: {
              subnets: shared.subnets,
              securityGroups: shared.securityGroups,
              assignPublicIp: 'DISABLED',
            },
          },
          loadBalancers: [{ targetGroupArn: tgArn, containerName: CONTAINER_NAME, containerPort: want.port }],
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
      const [created] = await describe([want.name]);
      if (!created) throw new TransientError(`ECS service ${want.name} is not visible yet`);
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
        if (tgArn) await apis.elbv2.modifyTargetGroup({ TargetGroupArn: tgArn, ...healthInput(want.health) });
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

function forwardsTo(
  action: { TargetGroupArn?: string; ForwardConfig?: { TargetGroups?: { TargetGroupArn?: string }[] } },
  arn: string,
): boolean {
  return (
    action.TargetGroupArn === arn ||
    Boolean(action.ForwardConfig?.TargetGroups?.some((g) => g.TargetGroupArn === arn))
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
