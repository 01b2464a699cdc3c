/**
 * Route on AWS: a listener rule on the service's ALB (see pool.ts) that sends the service's host
 * names (host-header condition, at most 5 values per rule; more names take more rules) to the
 * serving generation's target group. While a new generation starts, the compute driver adds its
 * target group to the same rule with weight 0; switching traffic forwards to it alone. berth
 * manages the rules' priorities (lowest free one; see createRuleAtFreePriority).
 *
 * A sweep reads each ALB's rules (one page each: an ALB holds at most 100) and the tags only of
 * rules it has not seen (a rule's environment and service never change), plus one batch of known
 * ones in turn. One service's look reads only its own ALB's rules.
 */
import type { Rule } from '@aws-sdk/client-elastic-load-balancing-v2';

import { TAG_SERVICE, type Tags } from '../../core/tags.js';
import { diffFields } from '../diff.js';
import type { ObservedResource, ResourceDriver } from '../provider.js';
import { awsErrorName } from './clients.js';
import {
  ELB_TAGS_BATCH,
  HOSTS_PER_RULE,
  createRuleAtFreePriority,
  forwardAction,
  listRules,
  ruleTargets,
  tagsOf,
  toElbTags,
} from './elbv2.js';
import { AlbPool, TAG_ALB, quotaError, ruleParents, type PoolMember } from './pool.js';
import { TAG_PART, inScope, targetGroupNameOf, type AwsApis } from './shared.js';
import { serviceResources } from './tagging.js';

export { HOSTS_PER_RULE };

export interface RouteAttributes {
  hosts: string[];
  /** The target group (by name) the hosts are sent to. */
  targetGroup: string;
  /** The load balancer the rule is on (shown by plans; not compared). */
  alb?: string;
}

export interface RouteDeps {
  apis: AwsApis;
  env: string;
  pool: AlbPool;
  /** The generated host name of a service (`<service>.<env>.<domain>`). */
  primaryHost(service: string): string;
}

function hostsOf(rule: Rule): string[] {
  const condition = rule.Conditions?.find((c) => c.Field === 'host-header');
  return [...(condition?.HostHeaderConfig?.Values ?? condition?.Values ?? [])];
}

/** The target group that gets the traffic: the one with the most weight. */
function servingTarget(rule: Rule): string | undefined {
  const targets = ruleTargets(rule);
  return [...targets].sort((a, b) => b.weight - a.weight)[0]?.arn;
}

function observed(rule: Rule, tags: Tags): ObservedResource {
  const hosts = hostsOf(rule);
  const attributes: RouteAttributes = {
    hosts,
    targetGroup: targetGroupNameOf(servingTarget(rule)) ?? '',
    alb: ruleParents(rule.RuleArn ?? '')?.albName ?? '',
  };
  return {
    kind: 'route',
    providerId: rule.RuleArn ?? '',
    key: hosts[0] ?? '',
    name: hosts.join(', '),
    attributes: attributes as unknown as Record<string, unknown>,
    tags,
    ...(attributes.alb ? { location: `load balancer ${attributes.alb}` } : {}),
  };
}

export function awsRouteDriver(deps: RouteDeps): ResourceDriver {
  const { apis, pool } = deps;
  /** Rule tags by ARN (see the file's comment); refreshed one batch per sweep in turn. */
  const tagCache = new Map<string, Tags>();
  let refreshFrom = 0;

  async function tagsOfRules(arns: string[], refreshSome: boolean): Promise<Map<string, Tags>> {
    const unknown = arns.filter((arn) => !tagCache.has(arn));
    const known = arns.filter((arn) => tagCache.has(arn));
    let refresh: string[] = [];
    if (refreshSome && known.length > 0) {
      const start = refreshFrom % known.length;
      refresh = [...known, ...known].slice(start, start + Math.min(ELB_TAGS_BATCH, known.length));
      refreshFrom = start + refresh.length;
    }
    const wanted = [...unknown, ...refresh];
    const fetched = await tagsOf(apis.elbv2, wanted);
    for (const arn of wanted) tagCache.set(arn, fetched.get(arn) ?? {});
    return new Map(arns.map((arn) => [arn, tagCache.get(arn) ?? {}]));
  }

  async function targetGroup(name: string): Promise<{ arn: string; alb: string | undefined }> {
    const out = await apis.elbv2.describeTargetGroups({ Names: [name] }).catch((error: unknown) => {
      if (awsErrorName(error) === 'TargetGroupNotFoundException') return null;
      throw error;
    });
    const arn = out?.TargetGroups?.[0]?.TargetGroupArn;
    if (!arn) throw new Error(`target group ${name} does not exist (its compute is gone)`);
    const tags = (await tagsOf(apis.elbv2, [arn])).get(arn) ?? {};
    return { arn, alb: tags[TAG_ALB] };
  }

  function ruleInput(hosts: string[], tgArn: string) {
    return {
      Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: hosts } }],
      Actions: [forwardAction([{ arn: tgArn, weight: 1 }])],
    };
  }

  async function describeRule(arn: string): Promise<Rule | null> {
    try {
      return (await apis.elbv2.describeRules({ RuleArns: [arn] })).Rules?.[0] ?? null;
    } catch (error) {
      if (awsErrorName(error) === 'RuleNotFoundException') return null;
      throw error;
    }
  }

  function keep(rule: Rule, tags: Tags, scope: { env: string; service?: string }): boolean {
    return inScope(tags, scope) && tags[TAG_PART] !== 'compute';
  }

  return {
    kind: 'route',

    async observeAll(scope) {
      if (scope.service !== undefined) {
        // One service: the rules of its ALB that forward to its target groups (found by tag).
        const groups = new Map(
          (
            await serviceResources(apis.tagging, deps.env, scope.service, [
              'elasticloadbalancing:targetgroup',
            ])
          ).map((r) => [r.arn, r.tags]),
        );
        const found = groups.size
          ? await pool.serviceRules(scope.service, groups, deps.primaryHost(scope.service).toLowerCase())
          : null;
        if (!found) return [];
        const tags = await tagsOfRules(
          found.rules.map((rule) => rule.RuleArn!),
          false,
        );
        return found.rules
          .filter((rule) => keep(rule, tags.get(rule.RuleArn!) ?? {}, scope))
          .map((rule) => observed(rule, tags.get(rule.RuleArn!) ?? {}));
      }
      // A sweep: every ALB of the pool, one page of rules each.
      const members = await pool.members().catch(() => [] as PoolMember[]);
      const result: ObservedResource[] = [];
      const all: { rule: Rule; member: PoolMember }[] = [];
      for (const member of members) {
        const listenerArn = await pool.listenerOf(member).catch(() => null);
        if (!listenerArn) continue;
        for (const rule of await listRules(apis.elbv2, listenerArn)) {
          if (!rule.IsDefault && rule.RuleArn) all.push({ rule, member });
        }
      }
      const tags = await tagsOfRules(
        all.map(({ rule }) => rule.RuleArn!),
        true,
      );
      for (const { rule, member } of all) {
        const ruleTags = tags.get(rule.RuleArn!) ?? {};
        if (!keep(rule, ruleTags, scope)) continue;
        const service = ruleTags[TAG_SERVICE];
        if (service) pool.placements.set(service, member);
        result.push(observed(rule, ruleTags));
      }
      return result;
    },

    async create(desired) {
      const want = desired.attributes as unknown as RouteAttributes;
      const service = desired.tags[TAG_SERVICE] ?? '';
      const group = await targetGroup(want.targetGroup);
      // The service's ALB: where its target group is (a new service's compute placed it).
      let member = group.alb ? await pool.member(group.alb) : pool.placementOf(service);
      let done = () => undefined as void;
      if (!member) {
        const placed = await pool.place(service, 1);
        member = placed.member;
        done = placed.done;
      }
      try {
        const rule = await createRuleAtFreePriority(apis.elbv2, {
          ListenerArn: await pool.listenerOf(member),
          ...ruleInput(want.hosts, group.arn),
          Tags: toElbTags(desired.tags),
        });
        tagCache.set(rule.RuleArn!, desired.tags);
        pool.placements.set(service, member);
        return observed(rule, desired.tags);
      } catch (error) {
        if (['TooManyRules', 'TooManyRulesException'].includes(awsErrorName(error))) {
          throw quotaError(
            'rulesPerAlb',
            `load balancer ${member.name} is full (AWS refused one more rule: ${(error as Error).message})`,
          );
        }
        throw error;
      } finally {
        done();
      }
    },

    async update(providerId, desired) {
      const want = desired.attributes as unknown as RouteAttributes;
      if (!(await describeRule(providerId))) return null;
      try {
        const group = await targetGroup(want.targetGroup);
        const out = await apis.elbv2.modifyRule({ RuleArn: providerId, ...ruleInput(want.hosts, group.arn) });
        await apis.elbv2.addTags({ ResourceArns: [providerId], Tags: toElbTags(desired.tags) });
        tagCache.set(providerId, desired.tags);
        const rule = out.Rules?.[0] ?? (await describeRule(providerId));
        return rule ? observed(rule, desired.tags) : null;
      } catch (error) {
        if (awsErrorName(error) === 'RuleNotFoundException') return null;
        throw error;
      }
    },

    async delete(providerId) {
      tagCache.delete(providerId);
      try {
        await apis.elbv2.deleteRule(providerId);
        return 'deleted';
      } catch (error) {
        if (awsErrorName(error) === 'RuleNotFoundException') return 'already-gone';
        throw error;
      }
    },

    diff(desired, actual) {
      return diffFields(desired, actual, ['hosts', 'targetGroup']);
    },
  };
}

/** How many rules a service with these host names takes. */
export function rulesFor(hosts: string[]): number {
  return Math.max(1, Math.ceil(hosts.length / HOSTS_PER_RULE));
}
